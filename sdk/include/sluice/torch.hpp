// The tensor-level port types plugins exchange. Linking SluiceSDK::torch pulls in
// LibTorch; the host itself never includes this header (it never loads LibTorch
// unless a pipeline runs).
#ifndef SLUICE_TORCH_HPP_
#define SLUICE_TORCH_HPP_

#include <torch/nn/module.h>
#include <torch/types.h>
#include <torch/version.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/config.h"
#include "sluice/export.h"
#include "sluice/stage.hpp"

static_assert(TORCH_VERSION_MAJOR == SLUICE_TORCH_VERSION_MAJOR && TORCH_VERSION_MINOR == SLUICE_TORCH_VERSION_MINOR,
              "this plugin is compiled against another LibTorch than the Sluice SDK; point "
              "CMAKE_PREFIX_PATH at the LibTorch the SDK was built with");

namespace sluice {

// One split of a dataset. Features are kept compact (uint8 images stay uint8) and
// converted per batch by TensorDataset::Batch.
struct Split {
  torch::Tensor features;  // [N, sample_shape...], uint8 or float32, on the CPU
  torch::Tensor targets;   // [N] int64 class indices
  int64_t size() const { return targets.defined() ? targets.size(0) : 0; }
};

// Port type "dataset": train, validation and test splits of a classification problem,
// with the normalization fitted on the training split.
class SLUICE_API TensorDataset : public PortValue {
 public:
  ~TensorDataset() override;
  const char* port_type() const override;

  Split train, validation, test;
  std::vector<int64_t> sample_shape;     // one sample, e.g. {1, 28, 28}
  std::vector<std::string> class_names;  // one per class
  // Batch() computes (features * input_scale - mean) / std; mean and std broadcast
  // against one sample (scalars for images).
  double input_scale = 1.0;
  torch::Tensor mean, std;

  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
  int64_t num_features() const;  // product of sample_shape
  // "train" | "validation" | "test"; throws StageError for another name.
  const Split& split(std::string_view name) const;
  // Rows `index` (int64 [B]) of `split` as normalized float32 [B, sample_shape...].
  torch::Tensor Batch(const Split& split, const torch::Tensor& index) const;
  // Rows [begin, end) of `split`, normalized.
  torch::Tensor Range(const Split& split, int64_t begin, int64_t end) const;
};

// A network a model plugin builds. forward maps a normalized batch to logits.
class SLUICE_API Network : public torch::nn::Module {
 public:
  ~Network() override;
  virtual torch::Tensor forward(torch::Tensor x) = 0;
};

// Port type "model": an architecture, instantiated once the data's shape is known.
class SLUICE_API ModelSpec : public PortValue {
 public:
  ~ModelSpec() override;
  const char* port_type() const override;
  // A freshly initialized network (uses the current torch seed).
  virtual std::shared_ptr<Network> Build(const std::vector<int64_t>& sample_shape, int64_t num_outputs) const = 0;
  // A one-line description, e.g. "mlp 784-256-10 relu".
  virtual std::string Describe(const std::vector<int64_t>& sample_shape, int64_t num_outputs) const = 0;
};

// Port type "trained-model": a network with trained weights and what it was trained on.
class SLUICE_API TrainedModel : public PortValue {
 public:
  ~TrainedModel() override;
  const char* port_type() const override;

  std::shared_ptr<const ModelSpec> spec;
  std::shared_ptr<Network> network;
  std::vector<int64_t> sample_shape;
  std::vector<std::string> class_names;
  torch::Device device = torch::kCPU;
};

// Parses "auto" | "cpu" | "cuda" | "cuda:N" into a device this build can use. "auto" is
// CUDA when this LibTorch has it and a GPU is present. Throws StageError otherwise.
SLUICE_API torch::Device ResolveDevice(const std::string& spec);

}  // namespace sluice

extern "C" {
// Runtime facts for the run's environment record, as a JSON object (LibTorch version,
// CUDA, threads). If threads > 0, first sets LibTorch's intra-op thread count.
// The returned string is owned by the library and valid until the next call.
SLUICE_API const char* sluice_torch_runtime(int threads);
}

#endif  // SLUICE_TORCH_HPP_
