#include "fused_adamw.hpp"

#include <ATen/Parallel.h>

#include <cmath>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>

namespace sluice {
namespace {

// The key LibTorch files a parameter's state under: its TensorImpl's address, as text in
// LibTorch 1.x, as the pointer itself in 2.x.
template <class Map>
typename Map::key_type StateKey(const torch::Tensor& p) {
  using Key = typename Map::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream text;
    text << p.unsafeGetTensorImpl();
    return text.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

bool Fusable(const torch::Tensor& t) {
  return t.device().is_cpu() && t.scalar_type() == torch::kFloat32 && t.is_contiguous() && !t.is_sparse();
}

struct Coefficients {
  float decay, beta1, one_minus_beta1, beta2, one_minus_beta2, root_correction2, eps, neg_step;
};

// The arithmetic of AdamW::step, operator by operator, rounded as LibTorch's CPU kernels round
// it (measured against Debian's 1.13): add_(g, alpha) and addcmul_ are fused multiply-adds,
// the division by the bias correction a true division, addcdiv_ (s * m) / d added. Built
// for the CPU it runs on; this file is compiled with -ffp-contract=off so that the compiler
// fuses nothing else.
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) void Update(float* p, const float* g,
                                                                                          float* m, float* v, int64_t n,
                                                                                          const Coefficients& c) {
  for (int64_t i = 0; i < n; ++i) {
    p[i] = p[i] * c.decay;
    m[i] = __builtin_fmaf(g[i], c.one_minus_beta1, m[i] * c.beta1);
    v[i] = __builtin_fmaf(c.one_minus_beta2 * g[i], g[i], v[i] * c.beta2);
    const float denom = __builtin_sqrtf(v[i]) / c.root_correction2 + c.eps;
    p[i] = p[i] + (c.neg_step * m[i]) / denom;
  }
}

}  // namespace

torch::Tensor FusedAdamW::step(LossClosure closure) {
  for (const auto& group : param_groups_) {
    if (static_cast<const torch::optim::AdamWOptions&>(group.options()).amsgrad()) return AdamW::step(closure);
    for (const auto& p : group.params()) {
      if (p.grad().defined() && (!Fusable(p) || !Fusable(p.grad()))) return AdamW::step(closure);
    }
  }
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
    const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      auto key = StateKey<decltype(state_)>(p);
      auto it = state_.find(key);
      if (it == state_.end()) {
        auto fresh = std::make_unique<torch::optim::AdamWParamState>();
        fresh->step(0);
        fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        it = state_.emplace(std::move(key), std::move(fresh)).first;
      }
      auto& state = static_cast<torch::optim::AdamWParamState&>(*it->second);
      state.step(state.step() + 1);
      const auto t = static_cast<double>(state.step());
      const Coefficients c{static_cast<float>(1.0 - o.lr() * o.weight_decay()),
                           static_cast<float>(beta1),
                           static_cast<float>(1.0 - beta1),
                           static_cast<float>(beta2),
                           static_cast<float>(1.0 - beta2),
                           static_cast<float>(std::sqrt(1.0 - std::pow(beta2, t))),
                           static_cast<float>(o.eps()),
                           static_cast<float>(-o.lr() / (1.0 - std::pow(beta1, t)))};
      float* pp = p.data_ptr<float>();
      const float* gp = p.grad().data_ptr<float>();
      float* mp = state.exp_avg().data_ptr<float>();
      float* vp = state.exp_avg_sq().data_ptr<float>();
      at::parallel_for(0, p.numel(), int64_t{1} << 15, [&](int64_t begin, int64_t end) {
        Update(pp + begin, gp + begin, mp + begin, vp + begin, end - begin, c);
      });
    }
  }
  return loss;
}

void ClearGradients(torch::optim::Optimizer& optimizer) {
  for (auto& group : optimizer.param_groups()) {
    for (auto& p : group.params()) p.mutable_grad().reset();
  }
}

}  // namespace sluice
