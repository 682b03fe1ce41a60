#include <algorithm>
#include <vector>

#include "sluice/contract.hpp"
#include "sluice/torch.hpp"

namespace sluice {

const char* TaskName(Task task) {
  return task == Task::kRegression ? "regression" : task == Task::kNone ? "none" : "classification";
}

Inputs Inputs::To(const torch::Device& device, bool non_blocking) const {
  Inputs out;
  out.dense = dense.to(device, non_blocking);
  if (categorical.defined()) out.categorical = categorical.to(device, non_blocking);
  return out;
}

Inputs Inputs::PinMemory() const {
  Inputs out;
  out.dense = dense.pin_memory();
  if (categorical.defined()) out.categorical = categorical.pin_memory();
  return out;
}

int64_t InputSchema::num_dense() const {
  int64_t n = 1;
  for (int64_t d : sample_shape) n *= d;
  return n;
}

TensorDataset::~TensorDataset() = default;
const char* TensorDataset::port_type() const { return ports::kDataset; }

int64_t TensorDataset::num_features() const {
  int64_t n = 1;
  for (int64_t d : sample_shape) n *= d;
  return n;
}

InputSchema TensorDataset::schema() const {
  return InputSchema{sample_shape, categorical_cardinality, categorical_names, num_outputs()};
}

const Split& TensorDataset::split(std::string_view name) const {
  if (name == "train") return train;
  if (name == "validation") return validation;
  if (name == "test") return test;
  throw StageError("unknown split '" + std::string(name) + "' (expected train, validation or test)");
}

namespace {
torch::Tensor Normalize(const TensorDataset& ds, const torch::Tensor& raw) {
  if (raw.scalar_type() == torch::kInt64) return raw;  // token ids (text)
  torch::Tensor x = raw.to(torch::kFloat32);
  if (ds.input_scale != 1.0) x.mul_(ds.input_scale);
  if (ds.mean.defined()) x.sub_(ds.mean);
  if (ds.std.defined()) x.div_(ds.std);
  return x;
}
}  // namespace

// Gathers and normalizes rows with plain loops, for the common case (contiguous CPU
// features, uint8 or float32, scalar statistics). A batch is small: LibTorch's parallel
// kernels would cost more in thread hand-offs than they save, and a prefetching thread
// that entered them would start a second OpenMP team competing with training's.
template <class T>
bool GatherRows(const TensorDataset& ds, const torch::Tensor& features, const int64_t* idx, int64_t n,
                torch::Tensor& out) {
  const int64_t row = features.numel() / std::max<int64_t>(features.size(0), 1);
  std::vector<int64_t> shape = features.sizes().vec();
  shape[0] = n;
  out = torch::empty(shape, torch::kFloat32);
  const T* src = features.data_ptr<T>();
  float* dst = out.data_ptr<float>();
  const auto scale = static_cast<float>(ds.input_scale);
  const float mean = ds.mean.defined() ? ds.mean.item<float>() : 0.0f;
  const float inv_std = ds.std.defined() ? 1.0f / ds.std.item<float>() : 1.0f;
  for (int64_t i = 0; i < n; ++i) {
    if (idx[i] < 0 || idx[i] >= features.size(0)) return false;
    const T* in = src + idx[i] * row;
    float* o = dst + i * row;
    for (int64_t j = 0; j < row; ++j) o[j] = (static_cast<float>(in[j]) * scale - mean) * inv_std;
  }
  return true;
}

Inputs TensorDataset::Rows(const Split& s, const torch::Tensor& index) const {
  Inputs in;
  const bool scalar_stats = (!mean.defined() || mean.numel() == 1) && (!std.defined() || std.numel() == 1);
  const torch::Tensor idx = index.to(torch::kInt64).contiguous();
  bool gathered = false;
  if (scalar_stats && s.features.is_contiguous() && s.features.device().is_cpu() && s.features.dim() >= 1 &&
      idx.device().is_cpu()) {
    if (s.features.scalar_type() == torch::kUInt8) {
      gathered = GatherRows<uint8_t>(*this, s.features, idx.data_ptr<int64_t>(), idx.numel(), in.dense);
    } else if (s.features.scalar_type() == torch::kFloat32) {
      gathered = GatherRows<float>(*this, s.features, idx.data_ptr<int64_t>(), idx.numel(), in.dense);
    }
  }
  if (!gathered) in.dense = Normalize(*this, s.features.index_select(0, idx));
  if (s.categorical.defined()) in.categorical = s.categorical.index_select(0, idx);
  return in;
}

Inputs TensorDataset::Range(const Split& s, int64_t begin, int64_t end) const {
  Inputs in;
  in.dense = Normalize(*this, s.features.slice(0, begin, end));
  if (s.categorical.defined()) in.categorical = s.categorical.slice(0, begin, end);
  return in;
}

Network::~Network() = default;

ModelSpec::~ModelSpec() = default;
const char* ModelSpec::port_type() const { return ports::kModel; }

TrainedModel::~TrainedModel() = default;
const char* TrainedModel::port_type() const { return ports::kTrainedModel; }

}  // namespace sluice
