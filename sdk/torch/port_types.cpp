#include "sluice/contract.hpp"
#include "sluice/torch.hpp"

namespace sluice {

const char* TaskName(Task task) { return task == Task::kRegression ? "regression" : "classification"; }

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
  torch::Tensor x = raw.to(torch::kFloat32);
  if (ds.input_scale != 1.0) x.mul_(ds.input_scale);
  if (ds.mean.defined()) x.sub_(ds.mean);
  if (ds.std.defined()) x.div_(ds.std);
  return x;
}
}  // namespace

Inputs TensorDataset::Rows(const Split& s, const torch::Tensor& index) const {
  Inputs in;
  in.dense = Normalize(*this, s.features.index_select(0, index));
  if (s.categorical.defined()) in.categorical = s.categorical.index_select(0, index);
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
