// example-jsonl: a data plugin for JSON Lines records, as a third party would write it
// against the installed Sluice SDK.
//
//   {"sepallength": 5.1, "sepalwidth": 3.5, "petallength": 1.4, "petalwidth": 0.2, "class": "Iris-setosa"}
//
// Every numeric field of the first record except the target becomes a feature,
// standardized with the training split's mean and deviation (a missing or null value
// takes the mean). A string target makes a classification dataset, a numeric one a
// regression dataset. The split is a seeded shuffle.
//
// The preprocessing it publishes is the SDK's "table" kind (sluice::NumericTablePreprocessing),
// so a model trained on this data can be bundled and `sluice predict` applies the same
// transform to CSV or ARFF rows that have these columns.
#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "sluice/excerpt.hpp"
#include "sluice/plugin.hpp"
#include "sluice/torch.hpp"

namespace {

using sluice::Status;
using json = nlohmann::ordered_json;

class JsonlTable final : public sluice::Stage {
 public:
  // Declared once, used by Describe() and Run().
  static inline const sluice::Out<sluice::TensorDataset> kData{"data", "train, validation and test splits"};
  static inline const sluice::Param<std::string> kFile{"file"};
  static inline const sluice::Param<std::string> kTarget{"target"};
  static inline const sluice::Param<double> kValidationFraction{"validation_fraction"};
  static inline const sluice::Param<double> kTestFraction{"test_fraction"};
  static inline const sluice::MetricSpec kRows{"rows", sluice::Goal::kNone, "records read"};

  static sluice::Contract Describe() {
    return sluice::Contract("example-jsonl", "1.0.0", sluice::Kind::kData)
        .doc("Example plugin: JSON Lines records as a table, numeric fields as standardized features")
        .output(kData)
        .param(kFile.Required().format(sluice::StringFormat::kFile).doc("the .jsonl file, one object per line"))
        .param(kTarget.Required().doc("the field to predict: strings are classes, numbers a regression"))
        .param(kValidationFraction.Default(0.2).range(0, 0.5).doc("share of records held out for validation"))
        .param(kTestFraction.Default(0.2).range(0, 0.5).doc("share of records held out for the test"))
        .param(sluice::SeedParam())
        .metric(kRows);
  }

  Status Run(sluice::StageContext& ctx) override {
    const sluice::Params& p = ctx.params();
    const std::string& file = kFile.Get(p);
    const std::string& target = kTarget.Get(p);

    // Read: the features are the first record's numeric fields, in its order.
    std::ifstream in(file);
    if (!in) return Status::IoError(file + ": cannot open");
    std::vector<std::string> columns;
    std::vector<std::vector<double>> rows;  // NaN: missing
    std::vector<json> labels;
    std::string line;
    for (int64_t number = 1; std::getline(in, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string where = file + ":" + std::to_string(number) + ": ";
      json record = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!record.is_object()) return Status::InvalidArgument(where + "not a JSON object: " + sluice::Excerpt(line));
      auto label = record.find(target);
      if (label == record.end() || !(label->is_string() || label->is_number())) {
        return Status::InvalidArgument(where + "no string or number '" + target + "'");
      }
      if (columns.empty()) {
        for (const auto& [key, value] : record.items()) {
          if (key != target && value.is_number()) columns.push_back(key);
        }
        if (columns.empty()) return Status::InvalidArgument(where + "no numeric field besides '" + target + "'");
      }
      std::vector<double> row;
      for (const std::string& column : columns) {
        auto value = record.find(column);
        if (value == record.end() || value->is_null()) {
          row.push_back(std::nan(""));
        } else if (value->is_number()) {
          row.push_back(value->get<double>());
        } else {
          return Status::InvalidArgument(where + "'" + column + "' is " + value->type_name() + ", not a number");
        }
      }
      if (!labels.empty() && label->is_string() != labels.front().is_string()) {
        return Status::InvalidArgument(where + "'" + target + "' mixes strings and numbers");
      }
      rows.push_back(std::move(row));
      labels.push_back(*label);
    }
    const int64_t n = static_cast<int64_t>(rows.size());
    if (n < 3) return Status::InvalidArgument(file + ": " + std::to_string(n) + " records; need at least 3");

    // Split with the stage's seed.
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(ctx.seed());
    std::shuffle(order.begin(), order.end(), rng);
    const auto n_val = static_cast<int64_t>(std::floor(n * kValidationFraction.Get(p)));
    const auto n_test = static_cast<int64_t>(std::floor(n * kTestFraction.Get(p)));
    const int64_t n_train = n - n_val - n_test;

    // Fit on the training records.
    const auto features = static_cast<int64_t>(columns.size());
    std::vector<sluice::NumericColumn> fitted;
    for (int64_t f = 0; f < features; ++f) {
      double sum = 0, sum2 = 0;
      int64_t seen = 0;
      for (int64_t i = 0; i < n_train; ++i) {
        const double v = rows[order[i]][f];
        if (std::isnan(v)) continue;
        sum += v;
        sum2 += v * v;
        ++seen;
      }
      const double mean = seen ? sum / seen : 0.0;
      const double sd = seen ? std::sqrt(std::max(0.0, sum2 / seen - mean * mean)) : 0.0;
      fitted.push_back({columns[f], mean, mean, sd > 0 ? sd : 1.0});
    }

    auto ds = std::make_shared<sluice::TensorDataset>();
    ds->target_name = target;
    ds->sample_shape = {features};
    std::map<std::string, int64_t> class_index;
    if (labels.front().is_string()) {
      std::set<std::string> names;
      for (const json& label : labels) names.insert(label.get<std::string>());
      for (const std::string& name : names) {
        class_index[name] = static_cast<int64_t>(ds->class_names.size());
        ds->class_names.push_back(name);
      }
      if (ds->class_names.size() < 2) return Status::InvalidArgument(file + ": '" + target + "' has one class");
    } else {
      ds->task = sluice::Task::kRegression;
      double sum = 0, sum2 = 0;
      for (int64_t i = 0; i < n_train; ++i) {
        const double y = labels[order[i]].get<double>();
        sum += y;
        sum2 += y * y;
      }
      ds->target_shift = sum / n_train;
      const double sd = std::sqrt(std::max(0.0, sum2 / n_train - ds->target_shift * ds->target_shift));
      ds->target_scale = sd > 0 ? sd : 1.0;
    }
    auto split = [&](int64_t begin, int64_t end) {
      torch::Tensor x = torch::empty({end - begin, features}, torch::kFloat32);
      torch::Tensor y =
          torch::empty({end - begin}, ds->task == sluice::Task::kRegression ? torch::kFloat32 : torch::kInt64);
      auto xs = x.accessor<float, 2>();
      for (int64_t i = begin; i < end; ++i) {
        const int64_t r = order[i];
        for (int64_t f = 0; f < features; ++f) {
          const double v = std::isnan(rows[r][f]) ? fitted[f].fill : rows[r][f];
          xs[i - begin][f] = static_cast<float>((v - fitted[f].shift) / fitted[f].scale);
        }
        if (ds->task == sluice::Task::kRegression) {
          y[i - begin] = static_cast<float>((labels[r].get<double>() - ds->target_shift) / ds->target_scale);
        } else {
          y[i - begin] = class_index.at(labels[r].get<std::string>());
        }
      }
      return sluice::Split{x, {}, y};
    };
    ds->train = split(0, n_train);
    ds->validation = split(n_train, n_train + n_val);
    ds->test = split(n_train + n_val, n);
    ds->preprocessing =
        sluice::NumericTablePreprocessing(fitted, target, ds->class_names, ds->target_shift, ds->target_scale);

    ctx.Log(kRows, 0, static_cast<double>(n));
    ctx.Info(std::to_string(n) + " records, " + std::to_string(features) + " features: " + std::to_string(n_train) +
             " train, " + std::to_string(n_val) + " validation, " + std::to_string(n_test) + " test");
    kData.Set(ctx, std::move(ds));  // checked by the host against the dataset's rules
    return Status::Ok();
  }
};

}  // namespace

SLUICE_PLUGIN(JsonlTable)
