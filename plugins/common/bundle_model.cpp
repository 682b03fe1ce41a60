#include "bundle_model.hpp"

#include <ATen/autocast_mode.h>
#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>
#include <torch/nn.h>
#include <torch/version.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <set>

#include "forward_passes.hpp"
#include "sluice/bundle.hpp"
#include "sluice/excerpt.hpp"

namespace sluice::inference {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Rows per forward pass of texts in bfloat16, on the CPU (see BundleModel::MicroBatch).
constexpr int64_t kBf16TextPass = 16;

Status ReadJson(const fs::path& path, json& out) {
  std::ifstream in(path);
  if (!in) return Status::NotFound(path.string() + ": cannot open");
  try {
    out = json::parse(in);
  } catch (const json::exception& e) {
    return Status::InvalidArgument(path.string() + ": " + MessageExcerpt(e));
  }
  return Status::Ok();
}

// CPU autocast to bfloat16 for the life of the guard (thread-local), as Python's
// torch.autocast("cpu", dtype=torch.bfloat16).
class Bf16Autocast {
 public:
  explicit Bf16Autocast(bool on) : on_(on) {
    if (!on_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    was_ = at::autocast::is_autocast_enabled(at::kCPU);
    at::autocast::set_autocast_enabled(at::kCPU, true);
    at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
#else
    was_ = at::autocast::is_cpu_enabled();
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
#endif
  }
  ~Bf16Autocast() {
    if (!on_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCPU, was_);
#else
    at::autocast::set_cpu_enabled(was_);
#endif
    at::autocast::clear_cache();
  }
  Bf16Autocast(const Bf16Autocast&) = delete;
  Bf16Autocast& operator=(const Bf16Autocast&) = delete;

 private:
  bool on_, was_ = false;
};

}  // namespace

bool PrecisionFromName(const std::string& name, Precision& out) {
  if (name == "fp32") {
    out = Precision::kFp32;
  } else if (name == "bf16") {
    out = Precision::kBf16;
  } else {
    return false;
  }
  return true;
}

Status BundleModel::Load(const fs::path& bundle, const ModelSpec& spec, const torch::Device& device,
                         std::unique_ptr<BundleModel>& out, Precision precision) {
  auto model = std::make_unique<BundleModel>();
  BundleModel& m = *model;
  SLUICE_RETURN_IF_ERROR(ReadJson(bundle / bundle::kManifestFile, m.manifest_));
  SLUICE_RETURN_IF_ERROR(ReadJson(bundle / bundle::kPreprocessingFile, m.pre_));
  try {
    const json& s = m.manifest_.at("schema");
    m.schema_.sample_shape = s.at("sample_shape").get<std::vector<int64_t>>();
    m.schema_.categorical_cardinality = s.at("categorical_cardinality").get<std::vector<int64_t>>();
    m.schema_.categorical_names = s.at("categorical_names").get<std::vector<std::string>>();
    m.schema_.num_outputs = s.at("num_outputs").get<int64_t>();
    m.task_ = m.manifest_.at("task").get<std::string>();
    m.target_shift_ = m.manifest_.value("target_shift", 0.0);
    m.target_scale_ = m.manifest_.value("target_scale", 1.0);
  } catch (const json::exception& e) {
    return Status::InvalidArgument((bundle / bundle::kManifestFile).string() + ": " + MessageExcerpt(e));
  }
  if (Status checked = CheckPreprocessing(m.pre_.dump(), m.schema_.sample_shape); !checked.ok()) {
    return Status::InvalidArgument((bundle / bundle::kPreprocessingFile).string() + ": " + checked.message());
  }
  const std::string kind = m.pre_.value("kind", "");  // CheckPreprocessing admits image, table and text
  if (kind == "image") {
    m.kind_ = InputKind::kImage;
  } else if (kind == "text") {
    m.kind_ = InputKind::kText;
    m.text_.emplace();
    SLUICE_RETURN_IF_ERROR(text::TextPreprocessing::FromJson(m.pre_, *m.text_));
  } else {
    m.kind_ = InputKind::kTable;
    m.table_.emplace();
    SLUICE_RETURN_IF_ERROR(tabular::Preprocessor::FromJson(m.pre_, *m.table_));
  }
  m.device_ = device;
  m.net_ = spec.Build(m.schema_);
  LoadWeights(*m.net_, (bundle / bundle::kWeightsFile).string());
  m.net_->to(device);
  m.net_->eval();
  m.precision_ = precision;
  if (precision == Precision::kBf16 && device.is_cpu()) {
    // The weights autocast would cast to bfloat16 on every call (those of linear layers
    // and convolutions) are cast once here; convolutions run fastest on NHWC with oneDNN.
    torch::NoGradGuard no_grad;
    for (const std::shared_ptr<torch::nn::Module>& module : m.net_->modules()) {
      const bool conv = dynamic_cast<torch::nn::Conv2dImpl*>(module.get()) != nullptr ||
                        dynamic_cast<torch::nn::Conv1dImpl*>(module.get()) != nullptr;
      if (!conv && dynamic_cast<torch::nn::LinearImpl*>(module.get()) == nullptr) continue;
      for (torch::Tensor& p : module->parameters(/*recurse=*/false)) {
        // to() with a memory format restrides even where contiguous() would not: a
        // one-channel filter is "contiguous" in both layouts, and left NCHW it makes oneDNN
        // answer in NCHW, where max pooling of bfloat16 is a scalar loop (a third slower).
        p.set_data(p.dim() == 4 ? p.to(torch::kBFloat16, false, false, torch::MemoryFormat::ChannelsLast)
                                : p.to(torch::kBFloat16));
      }
    }
  }
  out = std::move(model);
  return Status::Ok();
}

int64_t BundleModel::output_width() const { return task_ == "regression" ? 1 : schema_.num_outputs; }

int64_t BundleModel::max_batch(int64_t requested) const {
  return kind_ == InputKind::kText ? std::min(requested, kMaxTextsPerPass) : requested;
}

Status BundleModel::TableInputs(const tabular::Table& table, Inputs& out, std::vector<std::string>* notes) const {
  const tabular::Preprocessor& preprocessor = *table_;
  // Every column the model reads must be there; say all that are missing at once.
  std::string missing;
  const auto positions = table.Index();
  for (const auto& column : preprocessor.inputs) {
    if (!positions.count(column.name)) missing += (missing.empty() ? "'" : ", '") + column.name + "'";
  }
  if (!missing.empty()) {
    return Status::InvalidArgument(table.source + ": the model reads columns this file lacks: " + missing);
  }
  if (notes) {
    std::string ignored;
    std::set<std::string, std::less<>> read;
    for (const auto& c : preprocessor.inputs) read.insert(c.name);
    for (const auto& column : table.columns) {
      if (!read.count(column.name) && column.name != preprocessor.target) {
        ignored += (ignored.empty() ? "'" : ", '") + Excerpt(column.name) + "'";
      }
    }
    // (Names from the file: each cut short, and the list.)
    if (!ignored.empty()) notes->push_back("ignoring columns the model does not read: " + Excerpt(ignored, 300));
  }
  std::vector<size_t> rows(table.rows.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = i;
  std::vector<float> dense;
  std::vector<int64_t> codes;
  SLUICE_RETURN_IF_ERROR(preprocessor.Transform(table, rows, dense, codes));
  const auto n = static_cast<int64_t>(rows.size());
  out.dense = torch::from_blob(dense.data(), {n, preprocessor.dense_width()}, torch::kFloat32).clone();
  const auto embedded = static_cast<int64_t>(preprocessor.cardinality().size());
  if (embedded > 0) out.categorical = torch::tensor(codes, torch::kInt64).reshape({n, embedded});
  return Status::Ok();
}

Inputs BundleModel::TextInputs(const std::vector<std::string>& texts, int64_t* truncated) const {
  Inputs out;
  out.dense = text::EncodeTexts(*text_->tokenizer, texts, text_->max_length, truncated);
  return out;
}

Inputs BundleModel::ImageInputs(torch::Tensor pixels) const {
  pixels.mul_(pre_.at("input_scale").get<double>())
      .sub_(pre_.at("mean").get<double>())
      .div_(pre_.at("std").get<double>());
  Inputs out;
  out.dense = std::move(pixels);
  return out;
}

int64_t BundleModel::MicroBatch() const {
  // Images: see forward_passes.hpp. Short passes over length-sorted texts pay for less
  // padding and stay in cache in bfloat16 (120 vs 80 texts/s for MiniLM at 16 vs 64).
  switch (kind_) {
    case InputKind::kImage:
      return ImagesPerPass(schema_.num_dense());
    case InputKind::kText:
      return precision_ == Precision::kBf16 ? kBf16TextPass : kMaxTextsPerPass;
    case InputKind::kTable:
      break;
  }
  return std::numeric_limits<int64_t>::max();
}

torch::Tensor BundleModel::Forward(const Inputs& x) const {
  Inputs on_device = x.To(device_);
  if (precision_ == Precision::kBf16 && device_.is_cpu() && kind_ == InputKind::kImage) {
    on_device.dense = on_device.dense.contiguous(torch::MemoryFormat::ChannelsLast);
  }
  torch::Tensor y = net_->Forward(on_device);
  if (task_ == "embedding") return y.to(torch::kCPU, torch::kFloat64);
  if (task_ == "regression") {
    return y.reshape({-1, 1}).to(torch::kCPU, torch::kFloat64).mul(target_scale_).add(target_shift_);
  }
  return torch::softmax(y.to(torch::kFloat32), 1).to(torch::kCPU, torch::kFloat64);
}

torch::Tensor BundleModel::Outputs(const Inputs& x) const {
  c10::InferenceMode inference;
  Bf16Autocast autocast(precision_ == Precision::kBf16 && device_.is_cpu());
  const int64_t n = x.size();
  const int64_t step = device_.is_cpu() ? MicroBatch() : n;
  if (n <= step) return Forward(x).contiguous();
  // Texts go through in order of length, so each pass is trimmed to rows of like length;
  // the answers come back in the caller's order.
  torch::Tensor order;
  if (kind_ == InputKind::kText) order = x.dense.ne(0).sum(1).argsort();
  std::vector<torch::Tensor> parts;
  for (int64_t begin = 0; begin < n; begin += step) {
    const int64_t end = std::min(n, begin + step);
    Inputs part;
    if (order.defined()) {
      const torch::Tensor rows = order.slice(0, begin, end);
      part.dense = x.dense.index_select(0, rows);
      if (x.categorical.defined()) part.categorical = x.categorical.index_select(0, rows);
    } else {
      part.dense = x.dense.slice(0, begin, end);
      if (x.categorical.defined()) part.categorical = x.categorical.slice(0, begin, end);
    }
    parts.push_back(Forward(part));
  }
  torch::Tensor y = torch::cat(parts);
  if (!order.defined()) return y;
  return torch::empty_like(y).index_copy_(0, order, y);
}

}  // namespace sluice::inference
