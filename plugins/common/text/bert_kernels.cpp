#include "bert_kernels.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <oneapi/dnnl/dnnl.h>
#include <torch/autograd.h>

#include <cmath>
#include <initializer_list>
#include <mutex>
#include <string>
#include <vector>

#include "sluice/stage.hpp"

namespace sluice::text {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

bool Fast(const torch::Tensor& x) { return x.device().is_cpu() && x.scalar_type() == torch::kFloat32; }

uint64_t NextKey() {
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get<at::CPUGeneratorImpl>()->random64();
}

// A 32-bit integer hash with good avalanche (Chris Wellons' lowbias32); two rounds keyed by
// the 64-bit key make the keep/drop decisions of different keys independent.
inline uint32_t Mix(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

// out[i] = in[i] * scale where element i is kept, else 0; i counts from `first`. Vectorized
// for the CPU it runs on (the loop is 32-bit integer arithmetic and one select).
__attribute__((target_clones("avx512f", "avx2", "default"))) void MaskRange(const float* in, float* out, int64_t first,
                                                                            int64_t count, uint32_t k0, uint32_t k1,
                                                                            uint32_t threshold, float scale) {
  const auto base = static_cast<uint32_t>(first);
  const uint32_t high = k1 ^ (static_cast<uint32_t>(static_cast<uint64_t>(first) >> 32) * 0x9e3779b9U);
  for (int64_t j = 0; j < count; ++j) {
    const uint32_t h = Mix(Mix((base + static_cast<uint32_t>(j)) ^ k0) + high);
    out[j] = h >= threshold ? in[j] * scale : 0.0f;
  }
}

// Dropout's mask for key applied to x (contiguous float32): forward to the activations and,
// with the same key, backward to their gradient.
torch::Tensor Masked(const torch::Tensor& x, uint64_t key, double p) {
  torch::Tensor in = x.contiguous();
  torch::Tensor out = torch::empty_like(in);
  if (p >= 1.0) return out.zero_();
  const auto threshold = static_cast<uint32_t>(std::min(p * 4294967296.0, 4294967295.0));
  const auto scale = static_cast<float>(1.0 / (1.0 - p));
  const auto k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  const float* src = in.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  // Chunks never straddle a multiple of 2^32, where MaskRange's high word changes.
  constexpr int64_t kChunk = int64_t{1} << 14;
  at::parallel_for(0, (in.numel() + kChunk - 1) / kChunk, 4, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const int64_t first = c * kChunk, count = std::min(kChunk, in.numel() - first);
      MaskRange(src + first, dst + first, first, count, k0, k1, threshold, scale);
    }
  });
  return out;
}

struct DropoutFunction : torch::autograd::Function<DropoutFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, double p) {
    const uint64_t key = NextKey();
    ctx->saved_data["key"] = static_cast<int64_t>(key);
    ctx->saved_data["p"] = p;
    return Masked(x, key, p);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const auto key = static_cast<uint64_t>(ctx->saved_data["key"].toInt());
    return {Masked(grad[0], key, ctx->saved_data["p"].toDouble()), torch::Tensor()};
  }
};

// C[m, n] = alpha * op(A) op(B) + beta * C, row-major, through oneDNN's sgemm (one thread inside a
// parallel region).
void Gemm(char ta, char tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
          int64_t ldb, float* c, int64_t ldc, float beta = 0.0f) {
  const dnnl_status_t s = dnnl_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (s != dnnl_success) throw StageError("oneDNN's sgemm failed (status " + std::to_string(s) + ")");
}

// Whether oneDNN's sgemm answers here. In a process with PyPI's LibTorch 2 (which carries its
// own oneDNN and OpenMP runtime) Debian's libdnnl answers "unimplemented" (cause not found);
// then the layers take LibTorch's operators, as on a GPU.
bool GemmWorks() {
  static const bool works = [] {
    const float a[4] = {1, 2, 3, 4}, b[4] = {0, 1, 1, 0};
    float c[4] = {};
    return dnnl_sgemm('N', 'N', 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2) == dnnl_success && c[0] == 2 && c[1] == 1 &&
           c[2] == 4 && c[3] == 3;
  }();
  return works;
}

// y = x W^T + b over the last dimension, with its backward pass, as three oneDNN sgemms.
struct LinearFunction : torch::autograd::Function<LinearFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias) {
    const int64_t in = weight.size(1), out = weight.size(0);
    torch::Tensor rows = x.reshape({-1, in}).contiguous(), w = weight.contiguous();
    const int64_t m = rows.size(0);
    // The bias first, then the product added to it (beta = 1): one pass over y fewer.
    torch::Tensor y = bias.unsqueeze(0).expand({m, out}).contiguous();
    Gemm('N', 'T', m, out, in, 1.0f, rows.data_ptr<float>(), in, w.data_ptr<float>(), in, y.data_ptr<float>(), out,
         1.0f);
    ctx->save_for_backward({rows, w});
    std::vector<int64_t> shape = x.sizes().vec();
    shape.back() = out;
    return y.view(shape);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor &rows = saved[0], &w = saved[1];
    const int64_t m = rows.size(0), in = w.size(1), out = w.size(0);
    torch::Tensor g = grad[0].reshape({m, out}).contiguous();
    torch::Tensor dx, dw, db;
    if (ctx->needs_input_grad(0)) {
      dx = torch::empty({m, in}, g.options());
      Gemm('N', 'N', m, in, out, 1.0f, g.data_ptr<float>(), out, w.data_ptr<float>(), in, dx.data_ptr<float>(), in);
      std::vector<int64_t> shape = grad[0].sizes().vec();
      shape.back() = in;
      dx = dx.view(shape);
    }
    if (ctx->needs_input_grad(1)) {
      dw = torch::empty({out, in}, g.options());
      Gemm('T', 'N', out, in, m, 1.0f, g.data_ptr<float>(), out, rows.data_ptr<float>(), in, dw.data_ptr<float>(), in);
    }
    if (ctx->needs_input_grad(2)) db = g.sum(0);
    return {dx, dw, db};
  }
};

// Runs f(b, h) for every sequence and head, in parallel.
template <class F>
void EachHead(int64_t batch, int64_t heads, const F& f) {
  at::parallel_for(0, batch * heads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) f(i / heads, i % heads);
  });
}

struct Shape {
  int64_t b, l, width, heads, d;
  explicit Shape(const torch::Tensor& q, int64_t h)
      : b(q.size(0)), l(q.size(1)), width(q.size(2)), heads(h), d(q.size(2) / h) {}
  int64_t Head(int64_t bi, int64_t hi) const { return bi * l * width + hi * d; }      // offset in [B, L, H]
  int64_t Square(int64_t bi, int64_t hi) const { return (bi * heads + hi) * l * l; }  // in [B, heads, L, L]
};

struct AttentionFunction : torch::autograd::Function<AttentionFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const torch::Tensor& bias, int64_t heads, double p) {
    const uint64_t key = p > 0.0 ? NextKey() : 0;
    const Shape s(q, heads);
    const auto scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.d)));
    torch::Tensor scores = torch::empty({s.b, s.heads, s.l, s.l}, q.options());
    const float *qp = q.data_ptr<float>(), *kp = k.data_ptr<float>(), *vp = v.data_ptr<float>();
    float* sp = scores.data_ptr<float>();
    EachHead(s.b, s.heads, [&](int64_t b, int64_t h) {
      Gemm('N', 'T', s.l, s.l, s.d, scale, qp + s.Head(b, h), s.width, kp + s.Head(b, h), s.width, sp + s.Square(b, h),
           s.l);
    });
    torch::Tensor probs = torch::softmax(scores.add_(bias.view({s.b, 1, 1, s.l})), -1);
    torch::Tensor dropped = p > 0.0 ? Masked(probs, key, p) : probs;
    torch::Tensor context = torch::empty_like(q);
    const float* pp = dropped.data_ptr<float>();
    float* cp = context.data_ptr<float>();
    EachHead(s.b, s.heads, [&](int64_t b, int64_t h) {
      Gemm('N', 'N', s.l, s.d, s.l, 1.0f, pp + s.Square(b, h), s.l, vp + s.Head(b, h), s.width, cp + s.Head(b, h),
           s.width);
    });
    ctx->save_for_backward({q, k, v, probs});  // the probabilities before dropout
    ctx->saved_data["heads"] = heads;
    ctx->saved_data["key"] = static_cast<int64_t>(key);
    ctx->saved_data["p"] = p;
    return context;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor &q = saved[0], &k = saved[1], &v = saved[2], &probs = saved[3];
    const Shape s(q, ctx->saved_data["heads"].toInt());
    const double p = ctx->saved_data["p"].toDouble();
    const auto key = static_cast<uint64_t>(ctx->saved_data["key"].toInt());
    const auto scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.d)));
    torch::Tensor g = grad[0].contiguous();
    torch::Tensor dropped = p > 0.0 ? Masked(probs, key, p) : probs;
    torch::Tensor d_dropped = torch::empty_like(probs), dq = torch::empty_like(q), dk = torch::empty_like(k),
                  dv = torch::empty_like(v);
    const float *qp = q.data_ptr<float>(), *kp = k.data_ptr<float>(), *vp = v.data_ptr<float>(),
                *gp = g.data_ptr<float>(), *pp = dropped.data_ptr<float>();
    float *ddp = d_dropped.data_ptr<float>(), *dvp = dv.data_ptr<float>();
    EachHead(s.b, s.heads, [&](int64_t b, int64_t h) {
      Gemm('N', 'T', s.l, s.l, s.d, 1.0f, gp + s.Head(b, h), s.width, vp + s.Head(b, h), s.width, ddp + s.Square(b, h),
           s.l);
      Gemm('T', 'N', s.l, s.d, s.l, 1.0f, pp + s.Square(b, h), s.l, gp + s.Head(b, h), s.width, dvp + s.Head(b, h),
           s.width);
    });
    torch::Tensor d_probs = p > 0.0 ? Masked(d_dropped, key, p) : d_dropped;
    torch::Tensor d_scores = torch::_softmax_backward_data(d_probs, probs, -1, torch::kFloat32).contiguous();
    const float* dsp = d_scores.data_ptr<float>();
    float *dqp = dq.data_ptr<float>(), *dkp = dk.data_ptr<float>();
    EachHead(s.b, s.heads, [&](int64_t b, int64_t h) {
      Gemm('N', 'N', s.l, s.d, s.l, scale, dsp + s.Square(b, h), s.l, kp + s.Head(b, h), s.width, dqp + s.Head(b, h),
           s.width);
      Gemm('T', 'N', s.l, s.d, s.l, scale, dsp + s.Square(b, h), s.l, qp + s.Head(b, h), s.width, dkp + s.Head(b, h),
           s.width);
    });
    return {dq, dk, dv, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

// Whether a product takes the kernels here: gradients wanted (inference keeps LibTorch's
// operators: forward alone, the kernels gain 5% and the first sgemm in a process spends 40 ms
// preparing oneDNN's code, more than one text's answer), float32 CPU tensors, oneDNN answering.
bool UseKernels(std::initializer_list<torch::Tensor> inputs) {
  if (!torch::GradMode::is_enabled()) return false;
  bool grad = false;
  for (const torch::Tensor& x : inputs) {
    if (!Fast(x)) return false;
    grad = grad || x.requires_grad();
  }
  return grad && GemmWorks();
}

}  // namespace

torch::Tensor Dropout(const torch::Tensor& x, double p, bool training) {
  if (!training || p <= 0.0) return x;
  if (!Fast(x)) return torch::dropout(x, p, training);
  if (!torch::GradMode::is_enabled() || !x.requires_grad()) return Masked(x, NextKey(), p);
  return DropoutFunction::apply(x, p);
}

torch::Tensor Linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  // (LibTorch 1.13's custom functions take no undefined input: without a bias, its linear.)
  if (!bias.defined() || !UseKernels({x, weight, bias})) {
    return torch::linear(x, weight, bias);
  }
  return LinearFunction::apply(x, weight, bias);
}

torch::Tensor Attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& bias, int64_t heads, double p, bool training) {
  if (!Fast(bias) || !UseKernels({q, k, v})) {
    return AttentionReference(q, k, v, bias, heads, p, training);
  }
  return AttentionFunction::apply(q.contiguous(), k.contiguous(), v.contiguous(), bias.contiguous(), heads,
                                  training ? p : 0.0);
}

torch::Tensor AttentionReference(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                 const torch::Tensor& bias, int64_t heads, double p, bool training) {
  const int64_t b = q.size(0), l = q.size(1), d = q.size(2) / heads;
  auto split = [&](const torch::Tensor& x) { return x.view({b, l, heads, d}).transpose(1, 2); };
  torch::Tensor scores;
  if (q.is_cpu() && q.scalar_type() == torch::kBFloat16) {
    // bfloat16 inference: LibTorch's CPU arithmetic on bfloat16 runs slowest where it
    // mixes types, and the scores are L times the size of q. q is scaled instead of the
    // scores, and the padding's bias added in bfloat16 (whose range holds the lowest
    // float). The two had taken a fifth of the forward pass at 64 texts of 128 tokens.
    scores = torch::matmul(split(q).mul(1.0 / std::sqrt(static_cast<double>(d))), split(k).transpose(-1, -2));
    scores.add_(bias.to(torch::kBFloat16).view({b, 1, 1, l}));
  } else {
    scores = torch::matmul(split(q), split(k).transpose(-1, -2)).div_(std::sqrt(static_cast<double>(d)));
    scores.add_(bias.view({b, 1, 1, l}));
  }
  torch::Tensor probs = torch::dropout(torch::softmax(scores, -1), p, training);
  return torch::matmul(probs, split(v)).transpose(1, 2).reshape({b, l, heads * d});
}

}  // namespace sluice::text
