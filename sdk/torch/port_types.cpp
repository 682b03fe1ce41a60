#include <cstdlib>

#include "sluice/contract.hpp"
#include "sluice/torch.hpp"

namespace sluice {

TensorDataset::~TensorDataset() = default;
const char* TensorDataset::port_type() const { return ports::kDataset; }

int64_t TensorDataset::num_features() const {
  int64_t n = 1;
  for (int64_t d : sample_shape) n *= d;
  return n;
}

const Split& TensorDataset::split(std::string_view name) const {
  if (name == "train") return train;
  if (name == "validation") return validation;
  if (name == "test") return test;
  throw StageError("unknown split '" + std::string(name) + "' (expected train, validation or test)");
}

namespace {
torch::Tensor Normalize(const TensorDataset& ds, torch::Tensor raw) {
  torch::Tensor x = raw.to(torch::kFloat32);
  if (ds.input_scale != 1.0) x.mul_(ds.input_scale);
  if (ds.mean.defined()) x.sub_(ds.mean);
  if (ds.std.defined()) x.div_(ds.std);
  return x;
}
}  // namespace

torch::Tensor TensorDataset::Batch(const Split& s, const torch::Tensor& index) const {
  return Normalize(*this, s.features.index_select(0, index));
}

torch::Tensor TensorDataset::Range(const Split& s, int64_t begin, int64_t end) const {
  return Normalize(*this, s.features.slice(0, begin, end));
}

Network::~Network() = default;

ModelSpec::~ModelSpec() = default;
const char* ModelSpec::port_type() const { return ports::kModel; }

TrainedModel::~TrainedModel() = default;
const char* TrainedModel::port_type() const { return ports::kTrainedModel; }

}  // namespace sluice
