// Small deterministic datasets for plugin tests.
#ifndef SLUICE_TESTS_SUPPORT_DATASETS_HPP_
#define SLUICE_TESTS_SUPPORT_DATASETS_HPP_

#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sluice/torch.hpp"

namespace sluice::testing {

// The "table" preprocessing of `features` numeric columns x0, x1, ... taken as they are,
// as a CSV plugin would record it for such data.
inline std::string NumericTablePreprocessing(int64_t features, const std::vector<std::string>& class_names,
                                             const std::string& target = "y") {
  std::vector<NumericColumn> columns;
  for (int64_t f = 0; f < features; ++f) columns.push_back({"x" + std::to_string(f)});
  return sluice::NumericTablePreprocessing(columns, target, class_names);
}

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
  ds->preprocessing = NumericTablePreprocessing(features, ds->class_names);
  return ds;
}

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SUPPORT_DATASETS_HPP_
