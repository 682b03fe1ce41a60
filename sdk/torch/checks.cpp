// The rules port values keep (sluice/torch.hpp), checked when a stage publishes one, and
// the preprocessing formats.
#include <nlohmann/json.hpp>

#include "sluice/excerpt.hpp"
#include "sluice/torch.hpp"

namespace sluice {

namespace {

std::string Shape(torch::IntArrayRef sizes) {
  std::string text = "[";
  for (size_t i = 0; i < sizes.size(); ++i) text += (i ? ", " : "") + std::to_string(sizes[i]);
  return text + "]";
}

std::string DtypeName(const torch::Tensor& t) { return std::string(c10::toString(t.scalar_type())); }

Status CheckSplit(const TensorDataset& ds, const Split& split, const char* name) {
  const std::string where = std::string(name) + " split: ";
  if (split.size() == 0) return Status::Ok();
  if (!split.features.defined()) return Status::InvalidArgument(where + "no features");
  if (!split.features.device().is_cpu() || !split.targets.device().is_cpu()) {
    return Status::InvalidArgument(where + "tensors must be on the CPU (the trainer moves batches to the device)");
  }
  const bool text = IsText(ds.schema());
  if (text && split.features.scalar_type() != torch::kInt64) {
    return Status::InvalidArgument(where + "text features are " + DtypeName(split.features) +
                                   "; they must be int64 token ids");
  }
  if (!text && split.features.scalar_type() != torch::kUInt8 && split.features.scalar_type() != torch::kFloat32) {
    return Status::InvalidArgument(where + "features are " + DtypeName(split.features) +
                                   "; they must be uint8 or float32");
  }
  std::vector<int64_t> expected = {split.size()};
  expected.insert(expected.end(), ds.sample_shape.begin(), ds.sample_shape.end());
  if (split.features.sizes() != torch::IntArrayRef(expected)) {
    return Status::InvalidArgument(where + "features are shaped " + Shape(split.features.sizes()) + ", not " +
                                   Shape(expected) + " (rows, then sample_shape)");
  }
  if (split.targets.dim() != 1) {
    return Status::InvalidArgument(where + "targets are shaped " + Shape(split.targets.sizes()) + ", not [" +
                                   std::to_string(split.size()) + "]");
  }
  if (ds.task == Task::kClassification) {
    if (split.targets.scalar_type() != torch::kInt64) {
      return Status::InvalidArgument(where + "classification targets are " + DtypeName(split.targets) +
                                     "; they must be int64 class indices (torch::kLong)");
    }
    const int64_t low = split.targets.min().item<int64_t>(), high = split.targets.max().item<int64_t>();
    if (low < 0 || high >= ds.num_classes()) {
      return Status::InvalidArgument(where + "class indices run from " + std::to_string(low) + " to " +
                                     std::to_string(high) + ", but there are " + std::to_string(ds.num_classes()) +
                                     " class_names");
    }
  } else if (ds.task == Task::kRegression && split.targets.scalar_type() != torch::kFloat32) {
    return Status::InvalidArgument(where + "regression targets are " + DtypeName(split.targets) +
                                   "; they must be float32");
  } else if (ds.task == Task::kNone && split.targets.scalar_type() != torch::kInt64) {
    return Status::InvalidArgument(where + "an unlabeled dataset's targets are " + DtypeName(split.targets) +
                                   "; they must be int64 placeholders (zeros)");
  }
  const auto columns = static_cast<int64_t>(ds.categorical_cardinality.size());
  if (text) {
    const int64_t vocab = ds.categorical_cardinality[0];
    if (split.categorical.defined()) return Status::InvalidArgument(where + "text data stores no categorical codes");
    if (split.features.min().item<int64_t>() < 0 || split.features.max().item<int64_t>() >= vocab) {
      return Status::InvalidArgument(where + "token ids leave the vocabulary [0, " + std::to_string(vocab) + ")");
    }
  } else if (columns > 0) {
    if (!split.categorical.defined() || split.categorical.scalar_type() != torch::kInt64 ||
        split.categorical.sizes() != torch::IntArrayRef({split.size(), columns})) {
      return Status::InvalidArgument(where + "categorical codes must be int64 [" + std::to_string(split.size()) + ", " +
                                     std::to_string(columns) + "] for the " + std::to_string(columns) +
                                     " embedded columns");
    }
    for (int64_t c = 0; c < columns; ++c) {
      torch::Tensor codes = split.categorical.select(1, c);
      if (codes.min().item<int64_t>() < 0 || codes.max().item<int64_t>() >= ds.categorical_cardinality[c]) {
        return Status::InvalidArgument(where + "codes of embedded column " + std::to_string(c) + " leave [0, " +
                                       std::to_string(ds.categorical_cardinality[c]) + ")");
      }
    }
  } else if (split.categorical.defined()) {
    return Status::InvalidArgument(where + "categorical codes are set, but categorical_cardinality declares no column");
  }
  return Status::Ok();
}

}  // namespace

std::string ImagePreprocessing(const std::vector<int64_t>& shape, double input_scale, double mean, double std,
                               const std::vector<std::string>& class_names) {
  return nlohmann::json{{"kind", "image"},
                        {"format_version", kPreprocessingFormat},
                        {"shape", shape},
                        {"input_scale", input_scale},
                        {"mean", mean},
                        {"std", std},
                        {"class_names", class_names}}
      .dump();
}

std::string NumericTablePreprocessing(const std::vector<NumericColumn>& columns, const std::string& target,
                                      const std::vector<std::string>& class_names, double target_shift,
                                      double target_scale) {
  nlohmann::json features = nlohmann::json::array(), inputs = nlohmann::json::array();
  for (const NumericColumn& c : columns) {
    features.push_back(
        {{"column", c.name}, {"kind", "numeric"}, {"fill", c.fill}, {"shift", c.shift}, {"scale", c.scale}});
    inputs.push_back({{"name", c.name}, {"type", "numeric"}});
  }
  nlohmann::json j = {{"kind", "table"},
                      {"format_version", kPreprocessingFormat},
                      {"task", class_names.empty() ? "regression" : "classification"},
                      {"target", target},
                      {"features", features},
                      {"inputs", inputs}};
  if (class_names.empty()) {
    j["target_shift"] = target_shift;
    j["target_scale"] = target_scale;
  } else {
    j["class_names"] = class_names;
  }
  return j.dump();
}

Status CheckPreprocessing(const std::string& text, const std::vector<int64_t>& sample_shape) {
  if (text.empty()) {
    return Status::InvalidArgument(
        "no preprocessing: a model trained on this data could not be used on new records (set it to one of the "
        "kinds in sdk/GUIDE.md, \"Preprocessing\", e.g. sluice::ImagePreprocessing(...))");
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("the preprocessing is not JSON: ") + MessageExcerpt(e));
  }
  if (!j.is_object() || !j.contains("kind") || !j["kind"].is_string()) {
    return Status::InvalidArgument("the preprocessing has no \"kind\" (\"image\" or \"table\")");
  }
  const int version = j.value("format_version", 1);
  if (version > kPreprocessingFormat) {
    return Status::InvalidArgument("the preprocessing is format version " + std::to_string(version) +
                                   "; this sluice reads version " + std::to_string(kPreprocessingFormat) +
                                   " and older");
  }
  const std::string kind = j["kind"];
  try {
    if (kind == "image") {
      const auto shape = j.at("shape").get<std::vector<int64_t>>();
      if (shape != sample_shape) {
        return Status::InvalidArgument("the image preprocessing's shape differs from the data's sample_shape");
      }
      if (j.at("std").get<double>() <= 0 || j.at("input_scale").get<double>() == 0 || !j.at("mean").is_number()) {
        return Status::InvalidArgument("the image preprocessing needs input_scale != 0, a mean and std > 0");
      }
      return Status::Ok();
    }
    if (kind == "table") {
      if (!j.at("features").is_array() || !j.at("inputs").is_array() || !j.at("task").is_string() ||
          !j.at("target").is_string()) {
        return Status::InvalidArgument("the table preprocessing needs task, target, features and inputs");
      }
      return Status::Ok();
    }
    if (kind == "text") {
      const nlohmann::json& tokenizer = j.at("tokenizer");
      const std::string type = tokenizer.at("type").get<std::string>();
      const bool wordpiece = type == "wordpiece" && tokenizer.at("vocab").is_array();
      const bool sentencepiece = type == "sentencepiece" && tokenizer.at("model").is_string();
      if (!j.at("text_column").is_string() || !j.at("task").is_string() || !(wordpiece || sentencepiece)) {
        return Status::InvalidArgument(
            "the text preprocessing needs text_column, task and a tokenizer (wordpiece with a vocab, or sentencepiece "
            "with a model)");
      }
      if (sample_shape != std::vector<int64_t>{j.at("max_length").get<int64_t>()}) {
        return Status::InvalidArgument("the text preprocessing's max_length differs from the data's sample_shape");
      }
      return Status::Ok();
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument("the " + kind + " preprocessing is malformed: " + MessageExcerpt(e));
  }
  return Status::InvalidArgument("unknown preprocessing kind '" + kind + "' (known: image, table, text)");
}

Status TensorDataset::Check() const {
  if (train.size() == 0) return Status::InvalidArgument("the training split has no rows");
  if (task == Task::kClassification && class_names.size() < 2) {
    return Status::InvalidArgument("a classification dataset needs at least two class_names, has " +
                                   std::to_string(class_names.size()));
  }
  if (task == Task::kNone && !class_names.empty()) {
    return Status::InvalidArgument("an unlabeled dataset has no class_names");
  }
  if (task == Task::kRegression && !(target_scale > 0)) {
    return Status::InvalidArgument("target_scale must be > 0 (targets are stored standardized)");
  }
  if (categorical_names.size() != categorical_cardinality.size()) {
    return Status::InvalidArgument("categorical_names and categorical_cardinality differ in length");
  }
  SLUICE_RETURN_IF_ERROR(CheckSplit(*this, train, "train"));
  SLUICE_RETURN_IF_ERROR(CheckSplit(*this, validation, "validation"));
  SLUICE_RETURN_IF_ERROR(CheckSplit(*this, test, "test"));
  return CheckPreprocessing(preprocessing, sample_shape);
}

Status TrainedModel::Check() const {
  if (!network) return Status::InvalidArgument("no network");
  if (!spec) return Status::InvalidArgument("no spec: the model does not say which plugin built its architecture");
  if (schema.num_outputs < 1) return Status::InvalidArgument("the schema has no outputs");
  if (task == Task::kClassification && static_cast<int64_t>(class_names.size()) != schema.num_outputs) {
    return Status::InvalidArgument(std::to_string(class_names.size()) + " class names for " +
                                   std::to_string(schema.num_outputs) + " outputs");
  }
  return CheckPreprocessing(preprocessing, schema.sample_shape);
}

}  // namespace sluice
