// Forward passes over many rows, sized by what a pass's activations cost. Images on the
// CPU: on Fashion-MNIST's CNN here, a pass of 1,024 images runs at a half to a third of
// the rows/s of passes of 128 (its activations, 100 MB in float32, leave the caches, and
// the allocator maps them afresh, page by page, on every pass). Texts, anywhere: at most
// 64 a pass, attention's memory growing with the texts times the square of their length
// (1,024 texts of 128 tokens would need gigabytes). The evaluation stages, the trainer's
// validation and the bundles' inference (BundleModel) go by these rules.
#ifndef SLUICE_PLUGINS_COMMON_FORWARD_PASSES_HPP_
#define SLUICE_PLUGINS_COMMON_FORWARD_PASSES_HPP_

#include <torch/types.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "sluice/torch.hpp"

namespace sluice::inference {

// Image values per pass on the CPU: 128 of Fashion-MNIST's 28x28.
inline constexpr int64_t kImageValuesPerPass = 128 * 28 * 28;
// Texts per pass.
inline constexpr int64_t kMaxTextsPerPass = 64;
// How a batch-size parameter's batches are run, for its documentation (kept beside the rule).
inline constexpr char kPassesDoc[] = "(run in passes of at most 64 texts, or about 128 images on the CPU)";

// Images of `values_per_image` values each that one pass takes on the CPU.
inline int64_t ImagesPerPass(int64_t values_per_image) {
  return std::max<int64_t>(1, kImageValuesPerPass / std::max<int64_t>(1, values_per_image));
}

// Rows per pass for inputs of `schema` on `device`: texts (IsText) at most
// kMaxTextsPerPass; images (two dimensions or more) on the CPU by their size; tables at
// once.
inline int64_t RowsPerPass(const InputSchema& schema, const torch::Device& device) {
  if (IsText(schema)) return kMaxTextsPerPass;
  if (!device.is_cpu() || schema.sample_shape.size() < 2) return std::numeric_limits<int64_t>::max();
  return ImagesPerPass(schema.num_dense());
}

// net.Forward(x) in passes of at most `rows` rows, concatenated.
inline torch::Tensor ForwardInPasses(Network& net, const Inputs& x, int64_t rows) {
  const int64_t n = x.size();
  if (n <= rows) return net.Forward(x);
  std::vector<torch::Tensor> parts;
  for (int64_t begin = 0; begin < n; begin += rows) {
    const int64_t end = std::min(n, begin + rows);
    Inputs part;
    part.dense = x.dense.slice(0, begin, end);
    if (x.categorical.defined()) part.categorical = x.categorical.slice(0, begin, end);
    parts.push_back(net.Forward(part));
  }
  return torch::cat(parts);
}

}  // namespace sluice::inference

#endif  // SLUICE_PLUGINS_COMMON_FORWARD_PASSES_HPP_
