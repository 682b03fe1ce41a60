// The transform from table rows to model inputs, fitted on the training rows only:
// numeric (and date) columns imputed and standardized, categorical columns one-hot encoded
// or coded for embeddings, the target encoded. Serialized to JSON, it travels with the
// dataset and every model trained on it, so prediction applies the very same transform.
#ifndef SLUICE_PLUGINS_COMMON_TABULAR_PREPROCESS_HPP_
#define SLUICE_PLUGINS_COMMON_TABULAR_PREPROCESS_HPP_

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "table.hpp"

namespace sluice::tabular {

struct FitOptions {
  std::string target;               // "" = the last column
  std::string task = "auto";        // auto | classification | regression
  std::string encoding = "onehot";  // onehot | embedding (categorical columns)
  std::vector<std::string> drop;    // columns to leave out
  std::string impute = "mean";      // mean | median (numeric columns)
  bool standardize = true;
  int64_t max_categories = 100;  // categorical columns with more values are left out
};

struct Feature {
  enum class Kind { kNumeric, kOneHot, kEmbedding };
  std::string column;
  Kind kind = Kind::kNumeric;
  double fill = 0, shift = 0, scale = 1;  // numeric: missing -> fill, then (x - shift) / scale
  std::vector<std::string> categories;    // categorical: code = index + 1; missing or unseen -> 0
};

class Preprocessor {
 public:
  // Fits on `train_rows` of `table`. `notes` receives what the user should know (columns
  // left out and why).
  static Status Fit(const Table& table, const std::vector<size_t>& train_rows, const FitOptions& options,
                    Preprocessor& out, std::vector<std::string>& notes);

  int64_t dense_width() const;
  std::vector<int64_t> cardinality() const;  // per embedded column (categories + 1)
  std::vector<std::string> embedded_names() const;
  bool classification() const { return task == "classification"; }

  // Features of `rows` of `table`, whose columns are found by name: dense is row-major
  // rows x dense_width(), codes rows x cardinality().size(). Errors name FILE:LINE.
  Status Transform(const Table& table, const std::vector<size_t>& rows, std::vector<float>& dense,
                   std::vector<int64_t>& codes) const;
  // Targets of `rows`: class indices, or standardized values for regression.
  Status Targets(const Table& table, const std::vector<size_t>& rows, std::vector<int64_t>& classes,
                 std::vector<float>& values) const;

  nlohmann::json ToJson() const;
  static Status FromJson(const nlohmann::json& j, Preprocessor& out);

  std::string task;  // classification | regression
  std::string target;
  std::vector<std::string> class_names;
  double target_shift = 0, target_scale = 1;  // regression: value = standardized * scale + shift
  std::vector<Feature> features;
  // The columns the features are read from, with their types and declared values: what
  // an input file must provide.
  std::vector<Column> inputs;
};

}  // namespace sluice::tabular

#endif  // SLUICE_PLUGINS_COMMON_TABULAR_PREPROCESS_HPP_
