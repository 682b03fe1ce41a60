// text: labelled texts (CSV, TSV, JSON Lines, ARFF string attributes) tokenized into text
// data (sluice/torch.hpp, "Text"): seeded, stratified train/validation/test splits as the
// table plugins make them, or a separate test file; `train_examples` keeps a seeded,
// stratified subset of the training split (the low-resource setting).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include <nlohmann/json.hpp>

#include "sentencepiece.hpp"
#include "sluice/bundle.hpp"
#include "sluice/excerpt.hpp"
#include "sluice/plugin.hpp"
#include "sluice/torch.hpp"
#include "text_encoding.hpp"
#include "text_files.hpp"

namespace {

const sluice::Out<sluice::TensorDataset> kDataOut{"data", "token ids of the train, validation and test splits"};

const sluice::Param<std::string> kFile{"file"};
const sluice::Param<std::string> kTestFile{"test_file"};
const sluice::Param<std::string> kCorpusDir{"corpus_dir"};
const sluice::Param<std::string> kTextColumn{"text_column"};
const sluice::Param<std::string> kLabelColumn{"label_column"};
const sluice::Param<std::string> kTokenizer{"tokenizer"};
const sluice::Param<std::string> kVocab{"vocab"};
const sluice::Param<std::string> kTrainTokenizer{"train_tokenizer"};
const sluice::Param<int64_t> kVocabSize{"vocab_size"};
const sluice::Param<bool> kLowercase{"lowercase"};
const sluice::Param<int64_t> kMaxLength{"max_length"};
const sluice::Param<double> kValFraction{"val_fraction"};
const sluice::Param<double> kTestFraction{"test_fraction"};
const sluice::Param<int64_t> kTrainExamples{"train_examples"};
const sluice::Param<std::string> kEncoding{"encoding"};

using sluice::Goal;
using sluice::MetricSpec;
const MetricSpec kTrainSize{"train_size", Goal::kNone, "training texts"};
const MetricSpec kValidationSize{"validation_size", Goal::kNone, "validation texts"};
const MetricSpec kTestSize{"test_size", Goal::kNone, "test texts"};
const MetricSpec kVocabSizeMetric{"vocab_size", Goal::kNone, "tokens in the vocabulary"};
const MetricSpec kMeanTokens{"mean_tokens", Goal::kNone, "mean tokens per text, [CLS] and [SEP] included"};
const MetricSpec kTruncated{"truncated_fraction", Goal::kNone, "share of texts cut to max_length"};

using sluice::Status;
namespace fs = std::filesystem;
using json = nlohmann::json;

// An unlabeled corpus: every regular file of `dir` (sorted by name) is one document.
Status ReadCorpusDir(const std::string& dir, sluice::tabular::Encoding encoding, sluice::text::Texts& out) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    std::string text;
    SLUICE_RETURN_IF_ERROR(sluice::tabular::ReadText(file.string(), encoding, text));
    out.texts.push_back(std::move(text));
    out.lines.push_back(1);
  }
  if (out.texts.empty()) return Status::InvalidArgument(dir + ": no files");
  out.text_column = "file";
  return Status::Ok();
}

Status TrainTokenizer(const std::string& kind, const std::vector<std::string>& texts, int64_t vocab_size,
                      bool lowercase, sluice::text::TextPreprocessing& pre) {
  if (kind == "wordpiece") {
    sluice::text::WordPieceOptions o;
    o.lowercase = o.strip_accents = lowercase;
    auto wordpiece = std::make_shared<sluice::text::WordPiece>();
    SLUICE_RETURN_IF_ERROR(sluice::text::TrainWordPiece(texts, vocab_size, o, *wordpiece));
    pre.tokenizer = std::move(wordpiece);
    return Status::Ok();
  }
  std::shared_ptr<const sluice::text::SentencePiece> sp;
  SLUICE_RETURN_IF_ERROR(sluice::text::SentencePiece::Train(texts, vocab_size, kind, lowercase, sp));
  pre.tokenizer = std::move(sp);
  return Status::Ok();
}

// The tokenizer a registered model (or run) carries in its preprocessing.
Status RegisteredTokenizer(sluice::StageContext& ctx, const std::string& reference,
                           std::shared_ptr<const sluice::text::Tokenizer>& out, int64_t& model_max_length) {
  sluice::ModelReference ref;
  SLUICE_RETURN_IF_ERROR(ctx.RequireService<sluice::ModelRegistryV1>().Resolve(reference, ref));
  if (ref.bundle.empty()) {
    return Status::InvalidArgument("tokenizer: " + ref.description +
                                   " is a run, not a registered model; register it "
                                   "(bundle) or give vocab");
  }
  const fs::path path = fs::path(ref.bundle) / sluice::bundle::kPreprocessingFile;
  std::ifstream in(path);
  const json j = json::parse(in, nullptr, false);
  sluice::text::TextPreprocessing pre;
  if (j.is_discarded() || j.value("kind", "") != "text") {
    return Status::InvalidArgument("tokenizer: " + ref.description + " is not a text model (" + path.string() + ")");
  }
  SLUICE_RETURN_IF_ERROR(sluice::text::TextPreprocessing::FromJson(j, pre));
  out = pre.tokenizer;
  model_max_length = pre.max_length;
  return Status::Ok();
}

class Text final : public sluice::Stage {
 public:
  static sluice::Contract Describe() {
    return sluice::Contract("text", "0.1.0", sluice::Kind::kData)
        .doc(
            "Labelled texts (CSV, TSV, JSON Lines, ARFF) tokenized with BERT's WordPiece into seeded, stratified "
            "splits")
        .output(kDataOut)
        .param(kFile.Required()
                   .optional()
                   .format(sluice::StringFormat::kFile)
                   .doc("the texts: .csv, .tsv, .jsonl (one object per line) or .arff"))
        .param(kTestFile.Required()
                   .optional()
                   .format(sluice::StringFormat::kFile)
                   .doc("a separate test set in the same form (then test_fraction is not used)"))
        .param(
            kTextColumn.Default("text").doc("the column (or key, or ARFF attribute) holding the text; case is ignored "
                                            "when no column matches exactly"))
        .param(kCorpusDir.Required()
                   .optional()
                   .format(sluice::StringFormat::kDirectory)
                   .doc("an unlabeled corpus instead of file: every file in this folder is one document"))
        .param(kLabelColumn.Default("auto").doc(
            "the label column; auto: the last column other than the text; none: unlabeled texts (a corpus to "
            "pre-train on; a .txt file is one document per line)"))
        .param(kTokenizer.Required().optional().doc(
            "use the tokenizer of a registered text model: NAME[:VERSION|@ALIAS] (or give vocab)"))
        .param(kVocab.Required()
                   .optional()
                   .format(sluice::StringFormat::kDirectory)
                   .doc("a Hugging Face BERT tokenizer folder: vocab.txt, and tokenizer_config.json when present"))
        .param(kTrainTokenizer.Required()
                   .optional()
                   .choices({"wordpiece", "unigram", "bpe"})
                   .doc("train a tokenizer on the training texts: BERT's WordPiece, or SentencePiece unigram or BPE"))
        .param(kVocabSize.Default(8000).range(100, 1000000).doc("train_tokenizer: the vocabulary's size"))
        .param(kLowercase.Default(true).doc("train_tokenizer: fold case (and, for WordPiece, strip accents)"))
        .param(kMaxLength.Default(128).range(8, 8192).doc(
            "tokens per text with [CLS] and [SEP]; longer texts are truncated"))
        .param(kValFraction.Default(0.1).min(0).less_than(1).doc("share of each class held out for validation"))
        .param(kTestFraction.Default(0.2).min(0).less_than(1).doc("share of each class held out for testing"))
        .param(kTrainExamples.Default(0).min(0).doc(
            "keep a seeded, stratified subset of this many training texts (0: all)"))
        .param(kEncoding.Default("utf-8").choices({"utf-8", "latin-1"}).doc("the files' text encoding"))
        .param(sluice::SeedParam())
        .metric(kTrainSize)
        .metric(kValidationSize)
        .metric(kTestSize)
        .metric(kVocabSizeMetric)
        .metric(kMeanTokens)
        .metric(kTruncated);
  }

  Status Run(sluice::StageContext& ctx) override {
    const sluice::Params& p = ctx.params();
    if (kTokenizer.Has(p) + kVocab.Has(p) + kTrainTokenizer.Has(p) != 1) {
      return Status::InvalidArgument(
          "give one of tokenizer (a registered text model), vocab (a tokenizer folder) and train_tokenizer");
    }
    sluice::text::TextPreprocessing pre;
    pre.max_length = kMaxLength.Get(p);
    int64_t model_max_length = 0;
    if (kTokenizer.Has(p)) {
      SLUICE_RETURN_IF_ERROR(RegisteredTokenizer(ctx, kTokenizer.Get(p), pre.tokenizer, model_max_length));
    } else if (kVocab.Has(p)) {
      auto wordpiece = std::make_shared<sluice::text::WordPiece>();
      SLUICE_RETURN_IF_ERROR(sluice::text::LoadHuggingFaceTokenizer(kVocab.Get(p), *wordpiece));
      pre.tokenizer = std::move(wordpiece);
    }
    const auto encoding = sluice::tabular::EncodingFromName(kEncoding.Get(p));
    if (kFile.Has(p) == kCorpusDir.Has(p)) return Status::InvalidArgument("give one of file and corpus_dir");
    const bool unlabeled = kLabelColumn.Get(p) == "none" || kCorpusDir.Has(p);
    const std::string label_column = unlabeled ? "" : kLabelColumn.Get(p);
    const std::string source = kFile.Has(p) ? kFile.Get(p) : kCorpusDir.Get(p);
    sluice::text::Texts all, test_file;
    if (kCorpusDir.Has(p)) {
      SLUICE_RETURN_IF_ERROR(ReadCorpusDir(kCorpusDir.Get(p), encoding, all));
    } else {
      SLUICE_RETURN_IF_ERROR(sluice::text::ReadTexts(kFile.Get(p), kTextColumn.Get(p), label_column, encoding, all));
    }
    const bool separate_test = kTestFile.Has(p);
    if (separate_test) {
      SLUICE_RETURN_IF_ERROR(
          sluice::text::ReadTexts(kTestFile.Get(p), all.text_column, all.label_column, encoding, test_file));
    }
    pre.text_column = all.text_column;
    pre.target = all.label_column;

    // Classes: an ARFF label's declared values, else the labels seen, sorted.
    std::vector<std::string> classes = all.label_values;
    if (unlabeled) {
      all.labels.assign(all.texts.size(), "");
      test_file.labels.assign(test_file.texts.size(), "");
      classes = {""};  // one group for the split; the dataset declares no classes
    } else if (classes.empty()) {
      classes = all.labels;
      classes.insert(classes.end(), test_file.labels.begin(), test_file.labels.end());
      std::sort(classes.begin(), classes.end());
      classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
    }
    if (!unlabeled && classes.size() < 2) {
      return Status::InvalidArgument(source + ": the label '" + all.label_column + "' has " +
                                     std::to_string(classes.size()) + " value; classification needs two or more");
    }
    std::map<std::string, int64_t> index;
    for (size_t i = 0; i < classes.size(); ++i) index[classes[i]] = static_cast<int64_t>(i);
    auto class_of = [&](const sluice::text::Texts& t, size_t row, const std::string& file, int64_t& out) -> Status {
      auto it = index.find(t.labels[row]);
      if (it == index.end()) {
        return Status::InvalidArgument(file + ":" + std::to_string(t.lines[row]) + ": label '" +
                                       sluice::Excerpt(t.labels[row]) + "' is not one of the declared classes");
      }
      out = it->second;
      return Status::Ok();
    };
    std::vector<int64_t> labels(all.texts.size()), test_labels(test_file.texts.size());
    for (size_t r = 0; r < all.texts.size(); ++r) SLUICE_RETURN_IF_ERROR(class_of(all, r, source, labels[r]));
    for (size_t r = 0; r < test_file.texts.size(); ++r) {
      SLUICE_RETURN_IF_ERROR(class_of(test_file, r, kTestFile.Get(p), test_labels[r]));
    }

    // Seeded, stratified split, then the seeded, stratified training subset.
    std::mt19937_64 rng(ctx.seed());
    std::vector<std::vector<size_t>> groups(classes.size());
    for (size_t r = 0; r < labels.size(); ++r) groups[static_cast<size_t>(labels[r])].push_back(r);
    std::vector<size_t> train, validation, test;
    const double test_fraction = separate_test ? 0.0 : kTestFraction.Get(p);
    for (auto& rows : groups) {
      std::shuffle(rows.begin(), rows.end(), rng);
      const auto n = static_cast<double>(rows.size());
      const auto n_test = static_cast<size_t>(std::round(n * test_fraction));
      const auto n_val = static_cast<size_t>(std::round(n * kValFraction.Get(p)));
      for (size_t i = 0; i < rows.size(); ++i)
        (i < n_test ? test : i < n_test + n_val ? validation : train).push_back(rows[i]);
    }
    const auto keep = static_cast<size_t>(kTrainExamples.Get(p));
    if (keep > 0 && keep < train.size()) {
      // Largest remainders of each class's share, so every class keeps its proportion.
      std::vector<std::vector<size_t>> by_class(classes.size());
      for (size_t r : train) by_class[static_cast<size_t>(labels[r])].push_back(r);
      std::vector<size_t> quota(classes.size());
      std::vector<std::pair<double, size_t>> remainders;
      size_t given = 0;
      for (size_t c = 0; c < classes.size(); ++c) {
        const double exact =
            static_cast<double>(keep) * static_cast<double>(by_class[c].size()) / static_cast<double>(train.size());
        quota[c] = static_cast<size_t>(exact);
        given += quota[c];
        remainders.emplace_back(-(exact - static_cast<double>(quota[c])), c);
      }
      std::sort(remainders.begin(), remainders.end());
      for (size_t i = 0; given < keep && i < remainders.size(); ++i, ++given) ++quota[remainders[i].second];
      train.clear();
      for (size_t c = 0; c < classes.size(); ++c) {
        std::shuffle(by_class[c].begin(), by_class[c].end(), rng);
        train.insert(train.end(), by_class[c].begin(), by_class[c].begin() + static_cast<std::ptrdiff_t>(quota[c]));
      }
    }
    for (auto* rows : {&train, &validation, &test}) std::sort(rows->begin(), rows->end());
    {
      // Which record of the file went where (0-based, in file order), for comparisons
      // that must train on the same texts.
      const std::string path = ctx.ScratchDir() + "/splits.csv";
      std::ofstream out(path, std::ios::trunc);
      out << "row,split\n";
      std::vector<const char*> split(all.texts.size(), "unused");
      for (size_t r : train) split[r] = "train";
      for (size_t r : validation) split[r] = "validation";
      for (size_t r : test) split[r] = "test";
      for (size_t r = 0; r < split.size(); ++r) out << r << "," << split[r] << "\n";
      out.close();
      if (!out) return Status::IoError("cannot write " + path);
      SLUICE_RETURN_IF_ERROR(ctx.AddArtifact("splits", path));
    }

    if (unlabeled) classes.clear();
    pre.class_names = classes;
    pre.task = unlabeled ? "embedding" : "classification";  // what a model trained on it predicts
    auto dataset = std::make_shared<sluice::TensorDataset>();
    dataset->task = unlabeled ? sluice::Task::kNone : sluice::Task::kClassification;
    dataset->class_names = classes;
    dataset->target_name = all.label_column;
    dataset->sample_shape = {pre.max_length};
    dataset->categorical_names = {sluice::kTokensColumn};
    if (kTrainTokenizer.Has(p)) {
      // Trained on the training texts only, like any preprocessing.
      std::vector<std::string> texts;
      for (size_t r : train) texts.push_back(all.texts[r]);
      SLUICE_RETURN_IF_ERROR(TrainTokenizer(kTrainTokenizer.Get(p), texts, kVocabSize.Get(p), kLowercase.Get(p), pre));
      ctx.Info("trained a " + kTrainTokenizer.Get(p) + " tokenizer of " + std::to_string(pre.tokenizer->size()) +
               " tokens on " + std::to_string(texts.size()) + " training texts");
    }
    dataset->categorical_cardinality = {pre.tokenizer->size()};
    int64_t truncated = 0, tokens = 0, texts = 0;
    auto make = [&](const sluice::text::Texts& from, const std::vector<int64_t>& from_labels,
                    const std::vector<size_t>& rows, sluice::Split& split) {
      std::vector<std::string> chosen;
      std::vector<int64_t> targets;
      for (size_t r : rows) {
        chosen.push_back(from.texts[r]);
        targets.push_back(from_labels[r]);
      }
      int64_t cut = 0, kept = 0;
      split.features = sluice::text::EncodeTexts(*pre.tokenizer, chosen, pre.max_length, &cut, &kept);
      split.targets = torch::tensor(targets, torch::kInt64);
      if (targets.empty()) split.targets = torch::empty({0}, torch::kInt64);
      truncated += cut;
      tokens += kept;
      texts += static_cast<int64_t>(rows.size());
    };
    make(all, labels, train, dataset->train);
    make(all, labels, validation, dataset->validation);
    if (separate_test) {
      std::vector<size_t> rows(test_file.texts.size());
      for (size_t i = 0; i < rows.size(); ++i) rows[i] = i;
      make(test_file, test_labels, rows, dataset->test);
    } else {
      make(all, labels, test, dataset->test);
    }
    dataset->preprocessing = pre.ToJson().dump();

    ctx.Log(kTrainSize, 0, static_cast<double>(dataset->train.size()));
    ctx.Log(kValidationSize, 0, static_cast<double>(dataset->validation.size()));
    ctx.Log(kTestSize, 0, static_cast<double>(dataset->test.size()));
    ctx.Log(kVocabSizeMetric, 0, static_cast<double>(pre.tokenizer->size()));
    ctx.Log(kMeanTokens, 0, texts ? static_cast<double>(tokens) / static_cast<double>(texts) : 0.0);
    ctx.Log(kTruncated, 0, texts ? static_cast<double>(truncated) / static_cast<double>(texts) : 0.0);
    ctx.Info(
        std::to_string(dataset->train.size()) + " train, " + std::to_string(dataset->validation.size()) +
        " validation, " + std::to_string(dataset->test.size()) + " test texts of '" + pre.text_column + "'; " +
        (unlabeled ? std::string("unlabeled") : std::to_string(classes.size()) + " classes of '" + pre.target + "'") +
        "; " + std::to_string(pre.tokenizer->size()) + " tokens in the vocabulary, " + std::to_string(truncated) +
        " texts truncated to " + std::to_string(pre.max_length) + " tokens");
    if (model_max_length > 0 && pre.max_length > model_max_length) {
      ctx.Info("note: the tokenizer's model was trained on at most " + std::to_string(model_max_length) + " tokens");
    }
    kDataOut.Set(ctx, std::move(dataset));
    return Status::Ok();
  }
};

}  // namespace

SLUICE_PLUGIN(Text)
