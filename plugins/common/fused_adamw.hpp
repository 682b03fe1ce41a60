// LibTorch's AdamW with its update done in one pass over each parameter on the CPU.
//
// torch::optim::AdamW updates a parameter in seven operators, each a pass over the parameter
// and its two moments (a MiniLM's 22M parameters: 5% of a training step here); this one reads
// and writes each element once, rounded as LibTorch's kernels round (the same parameters, bit
// for bit, as Debian's LibTorch 1.13; within 5e-8 of PyPI's 2.15 after 20 steps), with the
// same state objects and so the same checkpoints. Parameters that are not contiguous float32
// on the CPU, and amsgrad, take LibTorch's own step.
#ifndef SLUICE_PLUGINS_COMMON_FUSED_ADAMW_HPP_
#define SLUICE_PLUGINS_COMMON_FUSED_ADAMW_HPP_

#include <torch/optim/adamw.h>

#include <vector>

namespace sluice {

class FusedAdamW final : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

// Drops the optimizer's parameters' gradients, as LibTorch 2's zero_grad() does by default
// (1.13's fills them with zeros): the backward pass then writes each gradient once instead
// of adding it to zeros, and both LibTorch versions train alike.
void ClearGradients(torch::optim::Optimizer& optimizer);

}  // namespace sluice

#endif  // SLUICE_PLUGINS_COMMON_FUSED_ADAMW_HPP_
