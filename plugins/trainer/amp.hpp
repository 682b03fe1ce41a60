// Mixed precision on CUDA: an autocast scope (bf16 or fp16) and, for fp16, dynamic loss
// scaling (LibTorch's C++ API has no GradScaler). Written against the API LibTorch 1.13
// and 2.x share, with the 2.4 renames guarded.
#ifndef SLUICE_PLUGINS_TRAINER_AMP_HPP_
#define SLUICE_PLUGINS_TRAINER_AMP_HPP_

#include <ATen/autocast_mode.h>
#include <torch/types.h>
#include <torch/version.h>

#include <vector>

namespace sluice::trainer {

// Autocast on CUDA for the lifetime of the object (no-op when `dtype` is float32).
class AutocastScope {
 public:
  explicit AutocastScope(torch::ScalarType dtype) : active_(dtype != torch::kFloat32) {
    if (!active_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_dtype(at::kCUDA, dtype);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(true);
#endif
  }
  ~AutocastScope() {
    if (!active_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
    at::autocast::set_enabled(false);
#endif
    at::autocast::clear_cache();
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_;
};

// Dynamic loss scaling for fp16: scale the loss up before backward, unscale the
// gradients, skip the step and halve the scale on overflow, double it after a run of
// good steps.
class LossScaler {
 public:
  explicit LossScaler(bool enabled) : enabled_(enabled) {}
  bool enabled() const { return enabled_; }
  double scale() const { return scale_; }
  void set_scale(double scale) { scale_ = scale; }

  torch::Tensor Scale(const torch::Tensor& loss) const { return enabled_ ? loss * scale_ : loss; }

  // Unscales gradients in place; false when any is not finite (skip this step).
  bool Unscale(const std::vector<torch::Tensor>& parameters) {
    if (!enabled_) return true;
    std::vector<torch::Tensor> bad;
    for (const torch::Tensor& p : parameters) {
      if (!p.grad().defined()) continue;
      p.mutable_grad().div_(scale_);
      bad.push_back(p.grad().isfinite().logical_not().any());
    }
    const bool finite = bad.empty() || !torch::stack(bad).any().item<bool>();
    if (!finite) {
      scale_ /= 2;
      good_steps_ = 0;
    } else if (++good_steps_ >= 2000) {
      scale_ *= 2;
      good_steps_ = 0;
    }
    return finite;
  }

 private:
  bool enabled_;
  double scale_ = 65536.0;
  int good_steps_ = 0;
};

}  // namespace sluice::trainer

#endif  // SLUICE_PLUGINS_TRAINER_AMP_HPP_
