// The two parts of BERT's training step that LibTorch's CPU operators run slowly, written for
// the CPU (float32, contiguous) with their own backward passes; any other tensor (CUDA, bf16)
// takes LibTorch's operators, which remain the reference the tests compare these with, and so
// do the products wherever oneDNN's sgemm does not answer (beside PyPI's LibTorch 2).
//
// - Dropout without a mask in memory: whether element i is kept is a hash of i and a 64-bit
//   key drawn from LibTorch's default generator, so manual_seed and a checkpoint's generator
//   state govern it, the answer does not depend on the number of threads, and the backward
//   pass recomputes the mask instead of reading one (bernoulli_ drew one float per element:
//   a sixth of a MiniLM training step here).
// - Linear layers as oneDNN's sgemm, forward and backward (10% faster than LibTorch's
//   OpenBLAS products on this CPU at BERT's shapes, measured).
// - The attention core, softmax(Q K^T / sqrt(d) + padding) with dropout, then times V, as one
//   oneDNN matrix product per sequence and head read in place from the [B, L, H] projections
//   and written in place into the [B, L, H] context (LibTorch's batched product over the
//   transposed heads ran at a quarter of the rate, after copying them).
#ifndef SLUICE_PLUGINS_COMMON_TEXT_BERT_KERNELS_HPP_
#define SLUICE_PLUGINS_COMMON_TEXT_BERT_KERNELS_HPP_

#include <torch/types.h>

namespace sluice::text {

// x W^T + b over x's last dimension (b may be undefined).
torch::Tensor Linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);

// x with each element zeroed with probability p and the others scaled by 1 / (1 - p); x itself
// when not training or p is 0.
torch::Tensor Dropout(const torch::Tensor& x, double p, bool training);

// q, k, v [B, L, heads * d]; bias [B, L]: 0 for tokens, the lowest float for padding (keys).
// Returns the attention context [B, L, heads * d], heads side by side as BERT concatenates
// them, with dropout p on the attention probabilities when training.
torch::Tensor Attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& bias, int64_t heads, double p, bool training);

// The same computation with LibTorch's operators (any device or type).
torch::Tensor AttentionReference(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                 const torch::Tensor& bias, int64_t heads, double p, bool training);

}  // namespace sluice::text

#endif  // SLUICE_PLUGINS_COMMON_TEXT_BERT_KERNELS_HPP_
