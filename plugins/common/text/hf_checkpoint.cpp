#include "hf_checkpoint.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "safetensors.hpp"
#include "sluice/excerpt.hpp"

namespace sluice::text {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// More classes than any labelled task has; a hostile num_labels would name billions.
constexpr int64_t kMaxLabels = 1000000;

Status ReadJsonFile(const fs::path& path, json& out) {
  std::ifstream in(path);
  if (!in) return Status::NotFound(path.string() + ": missing");
  try {
    out = json::parse(in);
  } catch (const json::exception& e) {
    return Status::InvalidArgument(path.string() + ": not JSON (truncated?): " + MessageExcerpt(e));
  }
  return Status::Ok();
}

Status WriteJsonFile(const fs::path& path, const json& j) {
  std::ofstream out(path, std::ios::trunc);
  out << j.dump(2) << "\n";
  out.close();
  return out ? Status::Ok()
             : Status::IoError("cannot write " + path.string() + ": " + std::strerror(errno ? errno : EIO));
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A checkpoint's tensor name in Sluice's names, or "" for one Sluice leaves aside.
std::string SluiceName(std::string name) {
  if (EndsWith(name, "LayerNorm.gamma")) name = name.substr(0, name.size() - 5) + "weight";
  if (EndsWith(name, "LayerNorm.beta")) name = name.substr(0, name.size() - 4) + "bias";
  if (name.rfind("classifier.", 0) == 0 || name.rfind("bert.", 0) == 0) return name;
  if (name.rfind("cls.", 0) == 0) return "";  // pre-training heads
  return "bert." + name;
}

}  // namespace

json TransformerParams(const BertConfig& c) {
  return {{"hidden_size", c.hidden_size},
          {"num_hidden_layers", c.num_hidden_layers},
          {"num_attention_heads", c.num_attention_heads},
          {"intermediate_size", c.intermediate_size},
          {"max_position_embeddings", c.max_position_embeddings},
          {"type_vocab_size", c.type_vocab_size},
          {"hidden_dropout_prob", c.hidden_dropout_prob},
          {"attention_probs_dropout_prob", c.attention_probs_dropout_prob},
          {"layer_norm_eps", c.layer_norm_eps},
          {"head", c.num_labels > 0 ? "classification" : "none"},
          {"pooling", c.pooling},
          {"normalize", c.normalize}};
}

BertConfig ConfigFromTransformerParams(const json& params, int64_t vocab_size, int64_t num_labels) {
  BertConfig c;
  c.vocab_size = vocab_size;
  c.hidden_size = params.at("hidden_size").get<int64_t>();
  c.num_hidden_layers = params.at("num_hidden_layers").get<int64_t>();
  c.num_attention_heads = params.at("num_attention_heads").get<int64_t>();
  c.intermediate_size = params.at("intermediate_size").get<int64_t>();
  c.max_position_embeddings = params.at("max_position_embeddings").get<int64_t>();
  c.type_vocab_size = params.at("type_vocab_size").get<int64_t>();
  c.hidden_dropout_prob = params.value("hidden_dropout_prob", c.hidden_dropout_prob);
  c.attention_probs_dropout_prob = params.value("attention_probs_dropout_prob", c.attention_probs_dropout_prob);
  c.layer_norm_eps = params.value("layer_norm_eps", c.layer_norm_eps);
  c.num_labels = params.value("head", "classification") == "classification" ? num_labels : 0;
  c.pooling = params.value("pooling", c.pooling);
  c.normalize = params.value("normalize", c.normalize);
  return c;
}

Status ReadHfCheckpoint(const std::string& dir_text, HfCheckpoint& out) {
  const fs::path dir(dir_text);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::NotFound(dir_text + ": not a folder");
  json config;
  SLUICE_RETURN_IF_ERROR(ReadJsonFile(dir / "config.json", config));
  const std::string where = (dir / "config.json").string();
  std::string architecture;
  if (config.contains("architectures") && config["architectures"].is_array() && !config["architectures"].empty()) {
    architecture = config["architectures"][0].is_string() ? config["architectures"][0].get<std::string>() : "";
  }
  const std::string model_type = config.value("model_type", "");
  const std::set<std::string> known = {"BertModel", "BertForSequenceClassification", "BertForMaskedLM",
                                       "BertForPreTraining", ""};
  if (model_type != "bert" || !known.count(architecture)) {
    return Status::InvalidArgument(where + ": model_type '" + Excerpt(model_type) + "', architecture '" +
                                   Excerpt(architecture) +
                                   "': sluice imports BERT (BertModel, BertForSequenceClassification)");
  }
  try {
    BertConfig& c = out.config;
    c.vocab_size = config.at("vocab_size").get<int64_t>();
    c.hidden_size = config.at("hidden_size").get<int64_t>();
    c.num_hidden_layers = config.at("num_hidden_layers").get<int64_t>();
    c.num_attention_heads = config.at("num_attention_heads").get<int64_t>();
    c.intermediate_size = config.at("intermediate_size").get<int64_t>();
    c.max_position_embeddings = config.value("max_position_embeddings", int64_t{512});
    c.type_vocab_size = config.value("type_vocab_size", int64_t{2});
    c.hidden_dropout_prob = config.value("hidden_dropout_prob", 0.1);
    c.attention_probs_dropout_prob = config.value("attention_probs_dropout_prob", 0.1);
    c.layer_norm_eps = config.value("layer_norm_eps", 1e-12);
    const std::string act = config.value("hidden_act", "gelu");
    if (act != "gelu")
      return Status::InvalidArgument(where + ": hidden_act '" + Excerpt(act) + "' (sluice's BERT uses exact gelu)");
    const std::string position = config.value("position_embedding_type", "absolute");
    if (position != "absolute") {
      return Status::InvalidArgument(where + ": position_embedding_type '" + Excerpt(position) +
                                     "' (sluice's BERT uses absolute)");
    }
    if (architecture == "BertForSequenceClassification") {
      if (config.contains("id2label") && config["id2label"].is_object()) {
        out.labels.assign(config["id2label"].size(), "");
        for (const auto& [id, label] : config["id2label"].items()) {
          size_t i = 0;
          const auto [end, error] = std::from_chars(id.data(), id.data() + id.size(), i);
          if (error != std::errc() || end != id.data() + id.size()) {
            return Status::InvalidArgument(where + ": id2label's key '" + Excerpt(id) + "' is not a class number");
          }
          if (i >= out.labels.size()) return Status::InvalidArgument(where + ": id2label skips ids");
          out.labels[i] = label.get<std::string>();
        }
      } else {
        const int64_t n = config.value("num_labels", int64_t{2});
        if (n < 1 || n > kMaxLabels) {
          return Status::InvalidArgument(where + ": num_labels " + std::to_string(n) + " (from 1 to " +
                                         std::to_string(kMaxLabels) + ")");
        }
        for (int64_t i = 0; i < n; ++i) out.labels.push_back("LABEL_" + std::to_string(i));
      }
      c.num_labels = static_cast<int64_t>(out.labels.size());
    }
  } catch (const std::exception& e) {
    return Status::InvalidArgument(where + ": " + MessageExcerpt(e));
  }
  try {
    CheckConfig(out.config);
  } catch (const StageError& e) {
    return Status::InvalidArgument(where + ": " + e.what());
  }

  // Pooling, as a sentence-transformers model says (mean, normalized); otherwise [CLS].
  json pooling, modules, sbert;
  if (ReadJsonFile(dir / "1_Pooling" / "config.json", pooling).ok()) {
    out.config.pooling = pooling.value("pooling_mode_mean_tokens", false) ? "mean" : "cls";
  }
  if (ReadJsonFile(dir / "modules.json", modules).ok() && modules.is_array()) {
    for (const json& m : modules) out.config.normalize |= m.value("type", "").find("Normalize") != std::string::npos;
  }

  // The tokenizer, and the longest input: sentence-transformers' max_seq_length, else the
  // tokenizer's model_max_length, within the position embeddings.
  auto tokenizer = std::make_shared<WordPiece>();
  SLUICE_RETURN_IF_ERROR(LoadHuggingFaceTokenizer(dir.string(), *tokenizer));
  if (tokenizer->size() != out.config.vocab_size) {
    return Status::InvalidArgument((dir / "vocab.txt").string() + ": " + std::to_string(tokenizer->size()) +
                                   " tokens, config.json says vocab_size " + std::to_string(out.config.vocab_size));
  }
  int64_t max_length = out.config.max_position_embeddings;
  json tokenizer_config;
  if (ReadJsonFile(dir / "tokenizer_config.json", tokenizer_config).ok()) {
    const auto m = tokenizer_config.value("model_max_length", 0.0);
    if (m > 0 && m < static_cast<double>(max_length)) max_length = static_cast<int64_t>(m);
  }
  if (ReadJsonFile(dir / "sentence_bert_config.json", sbert).ok()) {
    const int64_t m = sbert.value("max_seq_length", int64_t{0});
    if (m > 0 && m < max_length) max_length = m;
  }
  out.preprocessing.tokenizer = std::move(tokenizer);
  out.preprocessing.max_length = max_length;
  out.preprocessing.task = out.config.num_labels > 0 ? "classification" : "embedding";
  out.preprocessing.class_names = out.labels;

  // The weights: every parameter of the network, by name and shape.
  const fs::path weights = dir / "model.safetensors";
  std::map<std::string, torch::Tensor> tensors;
  SLUICE_RETURN_IF_ERROR(ReadSafetensors(weights.string(), tensors));
  std::map<std::string, std::pair<std::string, torch::Tensor>> renamed;  // sluice name -> (file name, tensor)
  std::vector<std::string> aside;
  for (auto& [name, tensor] : tensors) {
    const std::string sluice_name = SluiceName(name);
    if (sluice_name.empty() || EndsWith(name, "position_ids")) {
      aside.push_back(name);
    } else {
      renamed[sluice_name] = {name, tensor};
    }
  }
  out.network = std::make_shared<BertNetwork>(out.config);
  torch::NoGradGuard no_grad;
  for (auto& p : out.network->named_parameters()) {
    auto it = renamed.find(p.key());
    if (it == renamed.end()) {
      return Status::InvalidArgument(weights.string() + ": no tensor '" + p.key() + "' (or without its bert. prefix)" +
                                     (p.key().rfind("classifier.", 0) == 0 ? " for the classification head" : ""));
    }
    const torch::Tensor& t = it->second.second;
    if (t.sizes() != p.value().sizes()) {
      return Status::InvalidArgument(weights.string() + ": tensor '" + it->second.first + "' is shaped " +
                                     c10::str(t.sizes()) + ", config.json makes it " + c10::str(p.value().sizes()));
    }
    p.value().copy_(t);
    renamed.erase(it);
  }
  for (const auto& [name, entry] : renamed) aside.push_back(entry.first);
  if (!aside.empty()) {
    std::string names;
    for (size_t i = 0; i < aside.size() && i < 6; ++i) names += (i ? ", " : "") + aside[i];
    if (aside.size() > 6) names += ", ...";
    out.notes.push_back("left aside " + std::to_string(aside.size()) + " tensors the network does not use: " + names);
  }
  return Status::Ok();
}

namespace {

// The files of the checkpoint, into the folder `dir` (which exists).
Status WriteHfFiles(const fs::path& dir, BertNetwork& network, const TextPreprocessing& pre) {
  const auto* wordpiece = dynamic_cast<const WordPiece*>(pre.tokenizer.get());
  if (!wordpiece) {
    return Status::InvalidArgument("the model's tokenizer is " +
                                   pre.tokenizer->ToJson().value("type", std::string("?")) +
                                   "; the Hugging Face BERT layout holds a WordPiece vocabulary");
  }
  std::error_code ec;
  const BertConfig& c = network.config();
  const bool head = c.num_labels > 0;
  json config = {{"architectures", {head ? "BertForSequenceClassification" : "BertModel"}},
                 {"model_type", "bert"},
                 {"vocab_size", c.vocab_size},
                 {"hidden_size", c.hidden_size},
                 {"num_hidden_layers", c.num_hidden_layers},
                 {"num_attention_heads", c.num_attention_heads},
                 {"intermediate_size", c.intermediate_size},
                 {"max_position_embeddings", c.max_position_embeddings},
                 {"type_vocab_size", c.type_vocab_size},
                 {"hidden_act", "gelu"},
                 {"hidden_dropout_prob", c.hidden_dropout_prob},
                 {"attention_probs_dropout_prob", c.attention_probs_dropout_prob},
                 {"layer_norm_eps", c.layer_norm_eps},
                 {"initializer_range", 0.02},
                 {"pad_token_id", kPaddingId},
                 {"position_embedding_type", "absolute"}};
  if (head) {
    json id2label = json::object(), label2id = json::object();
    for (size_t i = 0; i < pre.class_names.size(); ++i) {
      id2label[std::to_string(i)] = pre.class_names[i];
      label2id[pre.class_names[i]] = i;
    }
    config["id2label"] = id2label;
    config["label2id"] = label2id;
    config["num_labels"] = c.num_labels;
  }
  SLUICE_RETURN_IF_ERROR(WriteJsonFile(dir / "config.json", config));
  {
    std::ofstream vocab(dir / "vocab.txt", std::ios::trunc);
    for (const std::string& token : wordpiece->vocab()) vocab << token << "\n";
    vocab.close();
    if (!vocab)
      return Status::IoError("cannot write " + (dir / "vocab.txt").string() + ": " +
                             std::strerror(errno ? errno : EIO));
  }
  const WordPieceOptions& o = wordpiece->options();
  SLUICE_RETURN_IF_ERROR(WriteJsonFile(dir / "tokenizer_config.json", {{"tokenizer_class", "BertTokenizer"},
                                                                       {"do_lower_case", o.lowercase},
                                                                       {"strip_accents", o.strip_accents},
                                                                       {"tokenize_chinese_chars", o.split_cjk},
                                                                       {"unk_token", o.unk},
                                                                       {"cls_token", o.cls},
                                                                       {"sep_token", o.sep},
                                                                       {"pad_token", o.pad},
                                                                       {"mask_token", o.mask},
                                                                       {"model_max_length", pre.max_length}}));
  SLUICE_RETURN_IF_ERROR(WriteJsonFile(dir / "special_tokens_map.json", {{"unk_token", o.unk},
                                                                         {"cls_token", o.cls},
                                                                         {"sep_token", o.sep},
                                                                         {"pad_token", o.pad},
                                                                         {"mask_token", o.mask}}));
  if (!head) {
    // sentence-transformers' layout, so its pooling travels too.
    json modules = json::array(
        {{{"idx", 0}, {"name", "0"}, {"path", ""}, {"type", "sentence_transformers.models.Transformer"}},
         {{"idx", 1}, {"name", "1"}, {"path", "1_Pooling"}, {"type", "sentence_transformers.models.Pooling"}}});
    if (c.normalize) {
      modules.push_back(
          {{"idx", 2}, {"name", "2"}, {"path", "2_Normalize"}, {"type", "sentence_transformers.models.Normalize"}});
    }
    SLUICE_RETURN_IF_ERROR(WriteJsonFile(dir / "modules.json", modules));
    fs::create_directories(dir / "1_Pooling", ec);
    SLUICE_RETURN_IF_ERROR(
        WriteJsonFile(dir / "1_Pooling" / "config.json", {{"word_embedding_dimension", c.hidden_size},
                                                          {"pooling_mode_cls_token", c.pooling == "cls"},
                                                          {"pooling_mode_mean_tokens", c.pooling == "mean"},
                                                          {"pooling_mode_max_tokens", false},
                                                          {"pooling_mode_mean_sqrt_len_tokens", false}}));
    SLUICE_RETURN_IF_ERROR(WriteJsonFile(dir / "sentence_bert_config.json",
                                         {{"max_seq_length", pre.max_length}, {"do_lower_case", false}}));
  }
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& p : network.named_parameters()) {
    // An encoder is written as BertModel: names without the "bert." prefix.
    tensors.emplace_back(head ? p.key() : p.key().substr(5), p.value());
  }
  return WriteSafetensors((dir / "model.safetensors").string(), tensors, {{"format", "pt"}});
}

// The hidden folder the writer of `dir` whose process id is `pid` fills before renaming it.
fs::path Staging(const fs::path& dir, pid_t pid) {
  return dir.parent_path() / ("." + dir.filename().string() + ".sluice-" + std::to_string(pid) + ".partial");
}

// Removes the staging folders of writers of `dir` that were killed (their process is gone).
void RemoveAbandoned(const fs::path& dir) {
  const std::string before = "." + dir.filename().string() + ".sluice-", after = ".partial";
  std::vector<fs::path> abandoned;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir.parent_path(), ec)) {
    const std::string name = entry.path().filename().string();
    const bool staged = name.size() > before.size() + after.size() && name.rfind(before, 0) == 0 &&
                        name.compare(name.size() - after.size(), after.size(), after) == 0;
    const std::string pid = staged ? name.substr(before.size(), name.size() - before.size() - after.size()) : "";
    if (pid.empty() || pid.size() > 9 || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (::kill(static_cast<pid_t>(std::stol(pid)), 0) != 0 && errno == ESRCH) abandoned.push_back(entry.path());
  }
  for (const fs::path& path : abandoned) fs::remove_all(path, ec);
}

}  // namespace

Status WriteHfCheckpoint(const std::string& dir_text, BertNetwork& network, const TextPreprocessing& pre) {
  // Whole or not at all: the files go to a hidden folder beside `dir`, renamed to it once
  // complete (over an empty folder too), so a killed export leaves no checkpoint without
  // its weights; the next export there removes what it left.
  const fs::path dir = fs::absolute(dir_text).lexically_normal();
  std::error_code ec;
  fs::create_directories(dir.parent_path(), ec);
  if (ec) return Status::IoError("cannot create " + dir.parent_path().string() + ": " + ec.message());
  RemoveAbandoned(dir);
  const fs::path staging = Staging(dir, ::getpid());
  fs::remove_all(staging, ec);
  fs::create_directory(staging, ec);
  if (ec) return Status::IoError("cannot create " + staging.string() + ": " + ec.message());
  Status written = WriteHfFiles(staging, network, pre);
  if (written.ok()) {
    fs::rename(staging, dir, ec);
    if (ec) written = Status::IoError("cannot write " + dir.string() + ": " + ec.message());
  }
  if (!written.ok()) fs::remove_all(staging, ec);
  return written;
}

}  // namespace sluice::text
