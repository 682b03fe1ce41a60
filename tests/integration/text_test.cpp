// Text, as a user drives it: an open checkpoint imported from its Hugging Face folder
// (all-MiniLM-L6-v2, which tools/setup unpacks) predicts the reference's sentence
// embeddings; export then import loses nothing; broken folders are refused by name and
// register nothing; a transformer fine-tuned on Reuters grain news (from the checkpoint
// and from scratch) is bundled and predicts new texts.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "data_files.hpp"
#include "process.hpp"
#include "store_cli_test.hpp"
#include "temp_dir.hpp"

namespace sluice::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class TextTest : public StoreCliTest {
 protected:
  static std::string MiniLm() { return fs::path(DataFile("models/all-MiniLM-L6-v2/config.json")).parent_path(); }
  // A copy of the MiniLM folder to break (the weights linked, unless `copy_weights`).
  fs::path BrokenCopy(const std::string& name, bool copy_weights = false) {
    const fs::path to = fs::path(dir_ / name);
    fs::create_directories(to);
    for (const auto& entry : fs::directory_iterator(MiniLm())) {
      if (!entry.is_regular_file()) continue;
      if (entry.path().filename() == "model.safetensors" && !copy_weights) {
        fs::create_symlink(entry.path(), to / "model.safetensors");
      } else {
        fs::copy_file(entry.path(), to / entry.path().filename());
      }
    }
    return to;
  }
};

json Goldens() {
  std::ifstream in(SLUICE_MINILM_GOLDEN);
  return json::parse(in);
}

TEST_F(TextTest, AnImportedOpenCheckpointEmbedsAsTheReferenceDoes) {
  const ProcessResult imported = Sluice({"models", "import", MiniLm(), "--name", "minilm"});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_NE(imported.err.find("registered minilm v1: BERT 6x384, mean-pooled embeddings"), std::string::npos)
      << imported.err;
  const json shown = SluiceJson({"models", "show", "minilm"});
  EXPECT_EQ(shown["manifest"]["task"], "embedding");
  EXPECT_EQ(shown["manifest"]["model"]["plugin"], "transformer");

  const json golden = Goldens();
  {
    std::ofstream texts(dir_ / "texts.jsonl");
    for (const auto& c : golden["cases"]) texts << json{{"id", 1}, {"text", c["text"]}}.dump() << "\n";
  }
  const ProcessResult predicted =
      Sluice({"predict", "minilm", "--input", dir_ / "texts.jsonl", "--output", dir_ / "embeddings.csv"});
  ASSERT_EQ(predicted.exit_code, 0) << predicted.err;
  EXPECT_NE(predicted.err.find("1 of 6 texts were longer than the model's 256 tokens and were truncated"),
            std::string::npos)
      << predicted.err;
  const auto rows = CsvNumbers(dir_ / "embeddings.csv");
  ASSERT_EQ(rows.size(), golden["cases"].size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto expected = golden["cases"][i]["embedding"].get<std::vector<double>>();
    ASSERT_EQ(rows[i].size(), expected.size() + 1) << "index, then e_0..e_383";
    double worst = 0;
    for (size_t k = 0; k < expected.size(); ++k) worst = std::max(worst, std::abs(rows[i][k + 1] - expected[k]));
    EXPECT_LT(worst, 1e-5) << "text " << i << ": " << golden["cases"][i]["text"];
  }

  // Many rows go through in passes of texts sorted by length; each answer still comes
  // back to its own row, in float32 and in bfloat16 (within its precision).
  const size_t cases = golden["cases"].size();
  {
    std::ofstream texts(dir_ / "many.jsonl");
    for (size_t i = 0; i < 12 * cases; ++i) texts << json{{"text", golden["cases"][i % cases]["text"]}}.dump() << "\n";
  }
  for (const auto& [precision, tolerance] : {std::pair{"fp32", 1e-5}, std::pair{"bf16", 0.03}}) {
    const fs::path out = dir_ / (std::string(precision) + ".csv");
    const ProcessResult many =
        Sluice({"predict", "minilm", "--input", dir_ / "many.jsonl", "--output", out, "--precision", precision});
    ASSERT_EQ(many.exit_code, 0) << precision << ": " << many.err;
    const auto embedded = CsvNumbers(out);
    ASSERT_EQ(embedded.size(), 12 * cases) << precision;
    for (size_t i = 0; i < embedded.size(); ++i) {
      const auto expected = golden["cases"][i % cases]["embedding"].get<std::vector<double>>();
      double worst = 0;
      for (size_t k = 0; k < expected.size(); ++k) worst = std::max(worst, std::abs(embedded[i][k + 1] - expected[k]));
      EXPECT_LT(worst, tolerance) << precision << ", row " << i << ": " << golden["cases"][i % cases]["text"];
    }
  }
}

TEST_F(TextTest, ExportThenImportLosesNothing) {
  ASSERT_EQ(Sluice({"models", "import", MiniLm(), "--name", "minilm"}).exit_code, 0);
  const ProcessResult exported = Sluice({"models", "export", "minilm", "--format", "hf", "--output", dir_ / "hf"});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  std::ifstream config_in(fs::path(dir_ / "hf") / "config.json");
  const json config = json::parse(config_in);
  EXPECT_EQ(config["architectures"], json::array({"BertModel"}));
  EXPECT_EQ(config["hidden_size"], 384);
  EXPECT_TRUE(fs::exists(fs::path(dir_ / "hf") / "1_Pooling" / "config.json"));
  ASSERT_EQ(Sluice({"models", "import", dir_ / "hf", "--name", "again"}).exit_code, 0);
  {
    std::ofstream texts(dir_ / "texts.csv");
    texts << "text\n\"Wheat, corn and sorghum shipments\"\nCafé déjà vu\n\n";
  }
  for (const char* model : {"minilm", "again"}) {
    const ProcessResult r =
        Sluice({"predict", model, "--input", dir_ / "texts.csv", "--output", dir_ / (std::string(model) + ".csv")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  EXPECT_EQ(ReadFile(dir_ / "minilm.csv"), ReadFile(dir_ / "again.csv")) << "the round trip changed the embeddings";
  // A second export over a non-empty folder is refused.
  const ProcessResult again = Sluice({"models", "export", "minilm", "--format", "hf", "--output", dir_ / "hf"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("exists and is not an empty folder"), std::string::npos) << again.err;

  // An export is written whole or not at all: into a hidden folder renamed at the end. What
  // a killed export left there (its process, this reaped child, is gone) goes with the next
  // export to the same folder, which may exist empty.
  const pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  const fs::path killed = dir_ / (".empty.sluice-" + std::to_string(child) + ".partial");
  dir_.Write(".empty.sluice-" + std::to_string(child) + ".partial/config.json", "{}");
  fs::create_directory(dir_ / "empty");
  const ProcessResult into_empty = Sluice({"models", "export", "minilm", "--format", "hf", "--output", dir_ / "empty"});
  ASSERT_EQ(into_empty.exit_code, 0) << into_empty.err;
  EXPECT_FALSE(fs::exists(killed)) << "a killed export's folder was left";
  EXPECT_EQ(ReadFile(dir_ / "empty/model.safetensors"), ReadFile(dir_ / "hf/model.safetensors"));
  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    EXPECT_EQ(entry.path().string().find(".partial"), std::string::npos) << "left behind: " << entry.path();
  }
}

TEST_F(TextTest, BrokenCheckpointsAreRefusedByFileAndTensorAndRegisterNothing) {
  struct Case {
    std::string name, expected;
    std::function<void(const fs::path&)> breakit;
    bool copy_weights = false;
  };
  auto edit_config = [](const fs::path& dir, const std::function<void(json&)>& edit) {
    std::ifstream in(dir / "config.json");
    json config = json::parse(in);
    in.close();
    edit(config);
    std::ofstream(dir / "config.json", std::ios::trunc) << config.dump();
  };
  const std::vector<Case> cases = {
      {"no-config", "config.json: missing", [](const fs::path& d) { fs::remove(d / "config.json"); }},
      {"gpt2", "config.json: model_type 'gpt2', architecture 'GPT2Model': sluice imports BERT",
       [&](const fs::path& d) {
         edit_config(d, [](json& c) {
           c["model_type"] = "gpt2";
           c["architectures"] = {"GPT2Model"};
         });
       }},
      {"wider",
       "model.safetensors: tensor 'embeddings.word_embeddings.weight' is shaped [30522, 384], config.json "
       "makes it [30522, 768]",
       [&](const fs::path& d) { edit_config(d, [](json& c) { c["hidden_size"] = 768; }); }},
      {"truncated", "model.safetensors: tensor",
       [](const fs::path& d) { fs::resize_file(d / "model.safetensors", 5000000); }, true},
      {"no-vocab", "vocab.txt: no vocabulary", [](const fs::path& d) { fs::remove(d / "vocab.txt"); }},
      {"petabytes", "config.json: the configuration describes a network of about 7.38e+17 parameters",
       [&](const fs::path& d) { edit_config(d, [](json& c) { c["intermediate_size"] = 159999999999936; }); }},
      {"billions-of-labels", "config.json: num_labels 99999999999 (from 1 to 1000000)",
       [&](const fs::path& d) {
         edit_config(d, [](json& c) {
           c["architectures"] = {"BertForSequenceClassification"};
           c["num_labels"] = 99999999999;
         });
       }},
      {"label-not-a-number", "config.json: id2label's key 'first' is not a class number",
       [&](const fs::path& d) {
         edit_config(d, [](json& c) {
           c["architectures"] = {"BertForSequenceClassification"};
           c["id2label"] = {{"first", "a"}, {"1", "b"}};
         });
       }},
      {"a-shape-past-64-bits",
       "model.safetensors: tensor 'embeddings.word_embeddings.weight' has a shape of more than 2^64 values",
       [](const fs::path& d) {
         fs::remove(d / "model.safetensors");
         const std::string header =
             R"({"embeddings.word_embeddings.weight": {"dtype": "F32", "shape": [8589934592, 2147483648], )"
             R"("data_offsets": [0, 0]}})";
         std::string length(8, '\0');
         for (size_t i = 0; i < 8; ++i) length[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
         std::ofstream(d / "model.safetensors", std::ios::binary) << length << header;
       }},
      {"cut-in-a-long-string",  // the parser's message quotes the 1 MB it read: cut short
       "config.json: not JSON (truncated?): [json.exception.parse_error.101] parse error at line 1, column 1048593",
       [](const fs::path& d) {
         std::ofstream(d / "config.json", std::ios::trunc) << "{\"model_type\": \"" << std::string(1 << 20, 'x');
       }},
  };
  for (const Case& c : cases) {
    const fs::path dir = BrokenCopy(c.name, c.copy_weights);
    c.breakit(dir);
    const ProcessResult r = Sluice({"models", "import", dir, "--name", c.name});
    EXPECT_EQ(r.exit_code, 1) << c.name << ": " << r.err;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << c.name << ": " << r.err.substr(0, 2000);
    EXPECT_LT(r.err.size(), 1000u) << c.name << ": the message quotes too much";
  }
  EXPECT_EQ(SluiceJson({"models", "list"}), json::array()) << "a refused import registered a model";
}

// A pipeline over Reuters grain news: `model` is the transformer stage's TOML.
std::string ReutersPipeline(const std::string& model, int64_t train_examples, int64_t epochs) {
  return "[pipeline]\nname = \"reuters-test\"\nseed = 3\n\n"
         "[stages.data]\nplugin = \"text\"\nfile = \"weka/examples/ReutersGrain-train.arff\"\n"
         "test_file = \"weka/examples/ReutersGrain-test.arff\"\ntext_column = \"Text\"\n"
         "vocab = \"models/all-MiniLM-L6-v2\"\nmax_length = 48\nval_fraction = 0.1\ntrain_examples = " +
         std::to_string(train_examples) + "\n\n[stages.model]\nplugin = \"transformer\"\n" + model +
         "\n[stages.train]\nplugin = \"trainer\"\ninputs = { data = \"data\", model = \"model\" }\nepochs = " +
         std::to_string(epochs) +
         "\nbatch_size = 16\nlr = 1e-3\nschedule = \"linear\"\nwarmup_ratio = 0.1\nweight_decay = 0.01\n"
         "class_weights = \"balanced\"\neval_batch_size = 64\n\n"
         "[stages.eval]\nplugin = \"classification-metrics\"\ninputs = { data = \"data\", model = \"train\" }\n"
         "batch_size = 64\n\n"
         "[stages.bundle]\nplugin = \"bundle\"\ninputs = { model = \"train\" }\nname = \"grain\"\n";
}

TEST_F(TextTest, ATransformerTrainedOnReutersIsBundledAndPredictsNewTexts) {
  std::ofstream(dir_ / "scratch.toml") << ReutersPipeline(
      "init_from = \"none\"\nhidden_size = 32\nnum_hidden_layers = 2\nnum_attention_heads = 2\n"
      "intermediate_size = 64\nmax_position_embeddings = 64\n",
      300, 2);
  const json run = SluiceJson({"run", dir_ / "scratch.toml"});
  ASSERT_EQ(run["status"], "succeeded") << run.dump();
  const json& m = run["metrics"];
  EXPECT_EQ(m["data.train_size"], 300) << "train_examples keeps 300 training texts";
  EXPECT_EQ(m["data.test_size"], 604) << "the separate test file, whole";
  EXPECT_GT(m["data.truncated_fraction"].get<double>(), 0.5) << "Reuters stories are longer than 48 tokens";
  EXPECT_TRUE(m.contains("eval.f1_macro") && m.contains("eval.roc_auc")) << m.dump();

  // The bundle predicts new texts; each row's probabilities sum to one.
  {
    std::ofstream texts(dir_ / "stories.tsv");
    texts << "id\tText\n1\tWheat and corn exports to the Soviet Union rose, the USDA said.\n"
             "2\tThe company reported higher quarterly profits.\n3\t\n";
  }
  const ProcessResult predicted = Sluice(
      {"predict", "grain", "--input", dir_ / "stories.tsv", "--output", dir_ / "p.csv", "--text-column", "text"});
  ASSERT_EQ(predicted.exit_code, 0) << predicted.err;
  const auto rows = CsvNumbers(dir_ / "p.csv");
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), 4u) << "index,pred,p_0,p_1";
    EXPECT_NEAR(row[2] + row[3], 1.0, 1e-6);
  }
  // It exports as a BertForSequenceClassification with the labels.
  ASSERT_EQ(Sluice({"models", "export", "grain", "--format", "hf", "--output", dir_ / "hf"}).exit_code, 0);
  std::ifstream config_in(fs::path(dir_ / "hf") / "config.json");
  const json config = json::parse(config_in);
  EXPECT_EQ(config["architectures"], json::array({"BertForSequenceClassification"}));
  EXPECT_EQ(config["id2label"], (json{{"0", "0"}, {"1", "1"}}));
}

TEST_F(TextTest, ATokenizerTrainedOnTheTrainingTextsTravelsWithTheModel) {
  const std::string tiny =
      "init_from = \"none\"\nhidden_size = 32\nnum_hidden_layers = 1\nnum_attention_heads = 2\n"
      "intermediate_size = 32\nmax_position_embeddings = 64\n";
  std::ofstream(dir_ / "t.csv") << "text\nWheat and corn exports rose\n";
  for (const std::string type : {"wordpiece", "unigram"}) {
    std::string pipeline = ReutersPipeline(tiny, 200, 1);
    const std::string vocab = "vocab = \"models/all-MiniLM-L6-v2\"";
    pipeline.replace(pipeline.find(vocab), vocab.size(), "train_tokenizer = \"" + type + "\"\nvocab_size = 1500");
    std::ofstream(dir_ / (type + ".toml")) << pipeline;
    const ProcessResult run = Sluice({"run", dir_ / (type + ".toml")});
    ASSERT_EQ(run.exit_code, 0) << type << ": " << run.err;
    EXPECT_NE(run.err.find("trained a " + type + " tokenizer of 1500 tokens on 200 training texts"), std::string::npos)
        << run.err;
    const ProcessResult predicted = Sluice({"predict", "grain", "--input", dir_ / "t.csv", "--json"});
    ASSERT_EQ(predicted.exit_code, 0) << type << ": " << predicted.err;
    EXPECT_EQ(json::parse(predicted.out).size(), 1u);
    const ProcessResult exported =
        Sluice({"models", "export", "grain", "--format", "hf", "--output", dir_ / ("hf-" + type)});
    if (type == "wordpiece") {
      EXPECT_EQ(exported.exit_code, 0) << exported.err;
      const std::string vocab_txt = ReadFile(fs::path(dir_ / "hf-wordpiece") / "vocab.txt");
      EXPECT_EQ(std::count(vocab_txt.begin(), vocab_txt.end(), '\n'), 1500);
    } else {
      EXPECT_EQ(exported.exit_code, 1);
      EXPECT_NE(exported.err.find("the model's tokenizer is sentencepiece; the Hugging Face BERT layout holds a "
                                  "WordPiece vocabulary"),
                std::string::npos)
          << exported.err;
    }
  }
}

TEST_F(TextTest, AMissingTextColumnIsNamedWithTheColumnsThereAre) {
  std::ofstream(dir_ / "p.toml") << ReutersPipeline(
      "init_from = \"none\"\nhidden_size = 32\nnum_hidden_layers = 1\n"
      "num_attention_heads = 2\nintermediate_size = 32\n",
      100, 1);
  const ProcessResult r = Sluice({"run", dir_ / "p.toml", "--set", "data.text_column=Body"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("ReutersGrain-train.arff: no text column 'Body' (columns: Text, class-att)"), std::string::npos)
      << r.err;
  const json runs = SluiceJson({"runs", "list"});
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "failed") << "the failed run is recorded with its status";
}

TEST_F(TextTest, FineTuningStartsFromTheCheckpointWithAFreshHead) {
  std::ofstream(dir_ / "minilm.toml") << ReutersPipeline(
      "checkpoint = \"models/all-MiniLM-L6-v2\"\nhidden_size = 384\nnum_hidden_layers = 6\n"
      "intermediate_size = 1536\nfreeze = [\"bert.embeddings\"]\n",
      32, 1);
  const ProcessResult r = Sluice({"run", dir_ / "minilm.toml"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("initialized 103 parameter tensors from checkpoint"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("fresh (no matching shape): classifier.weight, classifier.bias"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("5 frozen"), std::string::npos) << r.err;

  // Sizes that disagree with the checkpoint say what to set.
  std::ofstream(dir_ / "wrong.toml") << ReutersPipeline("checkpoint = \"models/all-MiniLM-L6-v2\"\n", 32, 1);
  const ProcessResult wrong = Sluice({"run", dir_ / "wrong.toml"});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(
      wrong.err.find("hidden_size = 768 differs from the 384 of the weights it starts from: set hidden_size = 384"),
      std::string::npos)
      << wrong.err;
}

// A tiny encoder pre-trained on Reuters stories (their labels unread), registered as "enc".
std::string PretrainPipeline() {
  return "[pipeline]\nname = \"pretrain-test\"\nseed = 5\nthreads = 1\n\n"
         "[stages.corpus]\nplugin = \"text\"\nfile = \"weka/examples/ReutersGrain-train.arff\"\n"
         "text_column = \"Text\"\nlabel_column = \"none\"\nvocab = \"models/all-MiniLM-L6-v2\"\nmax_length = 32\n"
         "val_fraction = 0.1\ntest_fraction = 0.0\ntrain_examples = 160\n\n"
         "[stages.model]\nplugin = \"transformer\"\nhead = \"none\"\nhidden_size = 32\nnum_hidden_layers = 1\n"
         "num_attention_heads = 2\nintermediate_size = 64\nmax_position_embeddings = 32\n\n"
         "[stages.pretrain]\nplugin = \"mlm\"\ninputs = { data = \"corpus\", model = \"model\" }\nepochs = 3\n"
         "batch_size = 16\nlog_every = 1\n\n"
         "[stages.bundle]\nplugin = \"bundle\"\ninputs = { model = \"pretrain\" }\nname = \"enc\"\n";
}

TEST_F(TextTest, PreTrainingResumesBitExactlyAndRegistersAnEncoderToFineTuneFrom) {
  std::ofstream(dir_ / "pretrain.toml") << PretrainPipeline();
  const json straight = SluiceJson({"run", dir_ / "pretrain.toml"});
  ASSERT_EQ(straight["status"], "succeeded") << straight.dump();
  const json& m = straight["metrics"];
  EXPECT_EQ(m["corpus.train_size"], 160);
  for (const char* key : {"pretrain.mlm_loss", "pretrain.mlm_accuracy", "pretrain.val_mlm_loss",
                          "pretrain.val_mlm_accuracy", "pretrain.tokens_per_sec"}) {
    EXPECT_TRUE(m.contains(key)) << key;
  }
  const auto losses = SluiceJson({"runs", "metrics", straight["id"], "pretrain.mlm_loss"});
  ASSERT_EQ(losses.size(), 30u) << "3 epochs of 10 steps, each logged";
  EXPECT_LT(losses.back()["value"].get<double>(), losses.front()["value"].get<double>()) << "the MLM loss fell";

  // Interrupted in the second epoch and resumed: the same encoder, byte for byte.
  Child child({SluiceBinary(), "run", dir_ / "pretrain.toml", "--json"}, Options());
  ASSERT_TRUE(
      child.WaitForLine([](const std::string& l) { return l.find("pretrain: epoch 2/3:") != std::string::npos; }));
  child.Signal(SIGINT);
  const ProcessResult stopped = child.Wait();
  ASSERT_EQ(stopped.exit_code, 130) << stopped.err;
  const std::string id = json::parse(stopped.out)["id"];
  const ProcessResult resumed = Sluice({"run", "--resume", id});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("resuming after epoch 2"), std::string::npos) << resumed.err;
  auto encoder = [&](const std::string& run) {
    const json shown = SluiceJson({"runs", "show", run});
    for (const auto& a : shown["artifacts"]) {
      if (a["stage"] == "pretrain" && a["name"] == "encoder") return a["sha256"].get<std::string>();
    }
    return std::string("none");
  };
  EXPECT_EQ(encoder(id), encoder(straight["id"])) << "the resumed run's encoder differs";
  EXPECT_EQ(SluiceJson({"runs", "metrics", id, "pretrain.mlm_loss"}), losses) << "the resumed losses differ";

  // The registered encoder predicts embeddings and is what fine-tuning starts from.
  const json shown = SluiceJson({"models", "show", "enc:1"});
  EXPECT_EQ(shown["manifest"]["task"], "embedding");
  std::ofstream(dir_ / "t.csv") << "text\nwheat exports\n";
  const ProcessResult embedded = Sluice({"predict", "enc:1", "--input", dir_ / "t.csv", "--output", dir_ / "e.csv"});
  ASSERT_EQ(embedded.exit_code, 0) << embedded.err;
  EXPECT_EQ(CsvNumbers(dir_ / "e.csv").at(0).size(), 33u) << "index and 32 values";

  std::string grain = ReutersPipeline(
      "init_from = \"enc:1\"\nhidden_size = 32\nnum_hidden_layers = 1\n"
      "num_attention_heads = 2\nintermediate_size = 64\nmax_position_embeddings = 32\n",
      100, 1);
  const std::string vocab = "vocab = \"models/all-MiniLM-L6-v2\"\nmax_length = 48";
  grain.replace(grain.find(vocab), vocab.size(), "tokenizer = \"enc:1\"\nmax_length = 32");
  std::ofstream(dir_ / "grain.toml") << grain;
  const ProcessResult tuned = Sluice({"run", dir_ / "grain.toml"});
  ASSERT_EQ(tuned.exit_code, 0) << tuned.err;
  EXPECT_NE(tuned.err.find("from model enc v1; fresh (no matching shape): classifier.weight, classifier.bias"),
            std::string::npos)
      << tuned.err;

  // The trainer refuses an unlabeled corpus, naming what to use.
  std::string wrong = PretrainPipeline();
  const std::string mlm = "plugin = \"mlm\"", log = "log_every = 1\n";
  wrong.replace(wrong.find(mlm), mlm.size(), "plugin = \"trainer\"");
  wrong.replace(wrong.find(log), log.size(), "");
  std::ofstream(dir_ / "wrong.toml") << wrong;
  const ProcessResult refused = Sluice({"run", dir_ / "wrong.toml"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("the trainer needs labels; this data is an unlabeled corpus (pre-train an encoder on it "
                             "with mlm)"),
            std::string::npos)
      << refused.err;
}

// Pre-training in phases: a second mlm stage goes on from the first's encoder (its `init`
// input). With a learning rate so small that AdamW's steps vanish in float32, the second
// phase's encoder is the first's, byte for byte; another tokenizer or another size is refused.
TEST_F(TextTest, ASecondPreTrainingPhaseGoesOnFromTheFirstsEncoder) {
  const std::string again =
      "\n[stages.again]\nplugin = \"mlm\"\ninputs = { data = \"corpus\", model = \"model\", init = \"pretrain\" "
      "}\nepochs = 1\nbatch_size = 16\nlr = 1e-30\n";
  std::ofstream(dir_ / "phases.toml") << PretrainPipeline() << again;
  const json run = SluiceJson({"run", dir_ / "phases.toml"});
  ASSERT_EQ(run["status"], "succeeded") << run.dump();
  std::map<std::string, std::string> encoders;
  const json shown = SluiceJson({"runs", "show", run["id"]});
  for (const auto& a : shown["artifacts"]) {
    if (a["name"] == "encoder") encoders[a["stage"]] = a["sha256"];
  }
  ASSERT_EQ(encoders.size(), 2u) << "an encoder from each phase";
  EXPECT_EQ(encoders["again"], encoders["pretrain"]) << "the second phase did not start from the first's weights";

  std::string other = PretrainPipeline() + again;
  other.replace(other.find("data = \"corpus\", model = \"model\", init"), 15, "data = \"other\"");
  other +=
      "\n[stages.other]\nplugin = \"text\"\nfile = \"weka/examples/ReutersGrain-train.arff\"\n"
      "text_column = \"Text\"\nlabel_column = \"none\"\ntrain_tokenizer = \"wordpiece\"\nvocab_size = 500\n"
      "max_length = 32\ntrain_examples = 160\n";
  std::ofstream(dir_ / "other.toml") << other;
  const ProcessResult refused = Sluice({"run", dir_ / "other.toml"});
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_NE(refused.err.find("again failed in"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("s: init: that encoder was pre-trained with another tokenizer than this data's; "
                             "tokenize every phase's corpus with the same vocab (or tokenizer)"),
            std::string::npos)
      << refused.err;

  // A second phase's model of another size is refused, naming the first tensor that differs.
  std::string resized = PretrainPipeline() + again;
  resized.replace(resized.find("model = \"model\", init"), 15, "model = \"small\"");
  resized +=
      "\n[stages.small]\nplugin = \"transformer\"\nhead = \"none\"\nhidden_size = 16\nnum_hidden_layers = 1\n"
      "num_attention_heads = 2\nintermediate_size = 64\nmax_position_embeddings = 32\n";
  std::ofstream(dir_ / "resized.toml") << resized;
  const ProcessResult mismatched = Sluice({"run", dir_ / "resized.toml"});
  EXPECT_EQ(mismatched.exit_code, 1) << mismatched.err;
  EXPECT_NE(mismatched.err.find("s: init: bert.embeddings.word_embeddings.weight is [30522, 32] there and [30522, 16] "
                                "here: give both phases' model the same sizes"),
            std::string::npos)
      << mismatched.err;
}

}  // namespace
}  // namespace sluice::testing
