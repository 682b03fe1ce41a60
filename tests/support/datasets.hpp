// Small deterministic datasets for plugin tests.
#ifndef SLUICE_TESTS_SUPPORT_DATASETS_HPP_
#define SLUICE_TESTS_SUPPORT_DATASETS_HPP_

#include <torch/types.h>

#include <memory>

#include "sluice/torch.hpp"

namespace sluice::testing {

// `classes` Gaussian blobs in `features` dimensions, centres spread by 4, unit variance:
// nearly separable, so a small network reaches > 95% accuracy quickly.
inline std::shared_ptr<TensorDataset> Blobs(int64_t per_split, int64_t classes = 3, int64_t features = 4,
                                            uint64_t seed = 1) {
  torch::manual_seed(seed);
  torch::Tensor centres = torch::randn({classes, features}) * 4;
  auto split = [&](int64_t n) {
    torch::Tensor y = torch::arange(n, torch::kInt64).remainder(classes);
    torch::Tensor x = centres.index_select(0, y) + torch::randn({n, features});
    return Split{x, {}, y};
  };
  auto ds = std::make_shared<TensorDataset>();
  ds->train = split(per_split);
  ds->validation = split(per_split / 4);
  ds->test = split(per_split / 2);
  ds->sample_shape = {features};
  for (int64_t c = 0; c < classes; ++c) ds->class_names.push_back("class " + std::to_string(c));
  return ds;
}

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SUPPORT_DATASETS_HPP_
