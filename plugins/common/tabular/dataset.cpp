#include "dataset.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <random>

#include "preprocess.hpp"
#include "sluice/excerpt.hpp"
#include "sluice/torch.hpp"

namespace sluice::tabular {

namespace {

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos && (s.empty() || (s.front() != ' ' && s.back() != ' '))) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// The rows of one split, as the file held them, so `sluice predict` can be run on them.
bool WriteRows(const Table& table, const std::vector<size_t>& rows, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  for (size_t c = 0; c < table.columns.size(); ++c) out << (c ? "," : "") << CsvField(table.columns[c].name);
  out << "\n";
  for (size_t r : rows) {
    for (size_t c = 0; c < table.columns.size(); ++c) {
      const Cell& cell = table.rows[r][c];
      out << (c ? "," : "") << (cell.missing ? "" : CsvField(cell.text));
    }
    out << "\n";
  }
  return static_cast<bool>(out);
}

torch::Tensor Floats(const std::vector<float>& v, int64_t rows, int64_t cols) {
  return torch::from_blob(const_cast<float*>(v.data()), {rows, cols}, torch::kFloat32).clone();
}

// The metrics both table plugins log, declared once for the contract and BuildTableDataset.
const MetricSpec kSkippedRows{"skipped_rows", Goal::kMinimize, "malformed rows left out (skip_bad_rows)"};
const MetricSpec kTrainSize{"train_size", Goal::kNone, "training rows"};
const MetricSpec kValidationSize{"validation_size", Goal::kNone, "validation rows"};
const MetricSpec kTestSize{"test_size", Goal::kNone, "test rows"};
const MetricSpec kFeatures{"features", Goal::kNone, "input features after encoding"};

}  // namespace

Contract& AddTableParams(Contract& contract) {
  return contract.param(kTargetParam.Default("").doc("the column to predict (default: the last column)"))
      .param(kTaskParam.Default("auto")
                 .choices({"auto", "classification", "regression"})
                 .doc("auto: classification for text targets and integer targets with at most 10 values"))
      .param(kCategoricalEncodingParam.Default("onehot")
                 .choices({"onehot", "embedding"})
                 .doc("categorical columns as one-hot features, or as codes for the model's embeddings"))
      .param(kDropParam.Default({}).doc("columns to leave out (identifiers, leaks)"))
      .param(kImputeParam.Default("mean")
                 .choices({"mean", "median"})
                 .doc("fill missing numbers with the training mean or median"))
      .param(kStandardizeParam.Default(true).doc("scale numeric columns to mean 0, deviation 1 (training statistics)"))
      .param(kMaxCategoriesParam.Default(100).range(2, 100000).doc("leave out categorical columns with more values"))
      .param(kValFractionParam.Default(0.15).range(0, 0.9).doc("share of rows held out for validation"))
      .param(kTestFractionParam.Default(0.15).range(0, 0.9).doc("share of rows held out for testing"))
      .param(kStratifyParam.Default(true).doc("keep class proportions equal across the splits (classification)"))
      .param(kSkipBadRowsParam.Default(false).doc("skip malformed rows (counted and listed) instead of failing"))
      .param(kEncodingParam.Default("utf-8")
                 .choices({"utf-8", "latin-1"})
                 .doc("the file's text encoding (a UTF-8 byte-order mark is dropped)"))
      .param(SeedParam())
      .metric(kSkippedRows)
      .metric(kTrainSize)
      .metric(kValidationSize)
      .metric(kTestSize)
      .metric(kFeatures);
}

Status BuildTableDataset(StageContext& ctx, const Table& table, const std::string& format) {
  const Params& p = ctx.params();
  if (kValFractionParam.Get(p) + kTestFractionParam.Get(p) >= 0.95) {
    return Status::InvalidArgument("val_fraction + test_fraction leave no rows to train on");
  }
  if (!table.skipped.empty()) {
    ctx.Log(kSkippedRows, 0, static_cast<double>(table.skipped.size()));
    for (size_t i = 0; i < table.skipped.size() && i < 5; ++i) ctx.Info("skipped " + table.skipped[i]);
    if (table.skipped.size() > 5)
      ctx.Info("... and " + std::to_string(table.skipped.size() - 5) + " more skipped rows");
    const std::string path = ctx.ScratchDir() + "/skipped_rows.txt";
    std::ofstream out(path, std::ios::trunc);
    for (const std::string& s : table.skipped) out << s << "\n";
    out.close();
    SLUICE_RETURN_IF_ERROR(ctx.AddArtifact("skipped_rows", path));
  }
  if (table.rows.size() < 10) {
    return Status::InvalidArgument(table.source + ": " + std::to_string(table.rows.size()) +
                                   " rows are too few to split into training, validation and test sets");
  }

  FitOptions options;
  options.target = kTargetParam.Get(p);
  options.task = kTaskParam.Get(p);
  options.encoding = kCategoricalEncodingParam.Get(p);
  options.drop = kDropParam.Get(p);
  options.impute = kImputeParam.Get(p);
  options.standardize = kStandardizeParam.Get(p);
  options.max_categories = kMaxCategoriesParam.Get(p);
  const std::string target = options.target.empty() ? table.columns.back().name : options.target;
  const auto target_index = table.Find(target);
  if (!target_index) {
    std::string names;
    for (const Column& c : table.columns) names += (names.empty() ? "" : ", ") + c.name;
    return Status::InvalidArgument(table.source + ": no column named '" + Excerpt(target) +
                                   "' (columns: " + Excerpt(names, 300) + ")");
  }
  for (size_t r = 0; r < table.rows.size(); ++r) {
    if (table.rows[r][*target_index].missing) {
      return Status::InvalidArgument(table.source + ":" + std::to_string(table.lines[r]) + ": the target '" +
                                     Excerpt(target) + "' is missing");
    }
  }

  // Seeded split; stratified by the target's value when it is a class.
  const bool by_class = kStratifyParam.Get(p) && options.task != "regression" &&
                        (table.columns[*target_index].type != ColumnType::kNumeric || options.task == "classification");
  std::map<std::string, std::vector<size_t>> groups;
  for (size_t r = 0; r < table.rows.size(); ++r) groups[by_class ? table.rows[r][*target_index].text : ""].push_back(r);
  std::mt19937_64 rng(ctx.seed());
  std::vector<size_t> train, validation, test;
  for (auto& [key, rows] : groups) {
    std::shuffle(rows.begin(), rows.end(), rng);
    const auto n = static_cast<double>(rows.size());
    const auto n_test = static_cast<size_t>(std::round(n * kTestFractionParam.Get(p)));
    const auto n_val = static_cast<size_t>(std::round(n * kValFractionParam.Get(p)));
    for (size_t i = 0; i < rows.size(); ++i) {
      (i < n_test ? test : i < n_test + n_val ? validation : train).push_back(rows[i]);
    }
  }
  std::sort(train.begin(), train.end());
  std::sort(validation.begin(), validation.end());
  std::sort(test.begin(), test.end());

  Preprocessor pre;
  std::vector<std::string> notes = table.notes;
  SLUICE_RETURN_IF_ERROR(Preprocessor::Fit(table, train, options, pre, notes));
  if (!notes.empty()) {
    // Said on the terminal, and kept with the run as its `notes` artifact.
    const std::string path = ctx.ScratchDir() + "/notes.txt";
    std::ofstream out(path, std::ios::trunc);
    for (const std::string& note : notes) {
      ctx.Info(note);
      out << note << "\n";
    }
    out.close();
    SLUICE_RETURN_IF_ERROR(ctx.AddArtifact("notes", path));
  }

  auto dataset = std::make_shared<TensorDataset>();
  dataset->task = pre.classification() ? Task::kClassification : Task::kRegression;
  dataset->class_names = pre.class_names;
  dataset->target_name = pre.target;
  dataset->target_shift = pre.target_shift;
  dataset->target_scale = pre.target_scale;
  dataset->sample_shape = {pre.dense_width()};
  dataset->categorical_cardinality = pre.cardinality();
  dataset->categorical_names = pre.embedded_names();
  auto make = [&](const std::vector<size_t>& rows, Split& split) -> Status {
    std::vector<float> dense, values;
    std::vector<int64_t> codes, classes;
    SLUICE_RETURN_IF_ERROR(pre.Transform(table, rows, dense, codes));
    SLUICE_RETURN_IF_ERROR(pre.Targets(table, rows, classes, values));
    const auto n = static_cast<int64_t>(rows.size());
    split.features = Floats(dense, n, pre.dense_width());
    if (!dataset->categorical_cardinality.empty()) {
      split.categorical = torch::tensor(codes, torch::kInt64)
                              .reshape({n, static_cast<int64_t>(dataset->categorical_cardinality.size())});
    }
    split.targets =
        pre.classification() ? torch::tensor(classes, torch::kInt64) : torch::tensor(values, torch::kFloat32);
    if (n == 0) split.targets = pre.classification() ? torch::empty({0}, torch::kInt64) : torch::empty({0});
    return Status::Ok();
  };
  SLUICE_RETURN_IF_ERROR(make(train, dataset->train));
  SLUICE_RETURN_IF_ERROR(make(validation, dataset->validation));
  SLUICE_RETURN_IF_ERROR(make(test, dataset->test));
  nlohmann::json preprocessing = pre.ToJson();
  preprocessing["format"] = format;
  dataset->preprocessing = preprocessing.dump();

  const std::string rows_path = ctx.ScratchDir() + "/test_rows.csv";
  if (!WriteRows(table, test, rows_path))
    return Status::IoError("cannot write " + rows_path + ": " + std::strerror(errno ? errno : EIO));
  SLUICE_RETURN_IF_ERROR(ctx.AddArtifact("test_rows", rows_path));

  ctx.Log(kTrainSize, 0, static_cast<double>(train.size()));
  ctx.Log(kValidationSize, 0, static_cast<double>(validation.size()));
  ctx.Log(kTestSize, 0, static_cast<double>(test.size()));
  ctx.Log(kFeatures, 0, static_cast<double>(pre.dense_width()));
  std::string summary = std::to_string(table.rows.size()) + " rows of " + std::to_string(table.columns.size()) +
                        " columns: " + std::to_string(train.size()) + " train, " + std::to_string(validation.size()) +
                        " validation, " + std::to_string(test.size()) + " test; " + TaskName(dataset->task) + " of '" +
                        Excerpt(pre.target) + "'";
  if (pre.classification()) summary += " (" + std::to_string(pre.class_names.size()) + " classes)";
  summary += "; " + std::to_string(pre.dense_width()) + " dense features";
  if (!dataset->categorical_cardinality.empty()) {
    summary += " + " + std::to_string(dataset->categorical_cardinality.size()) + " embedded columns";
  }
  ctx.Info(summary);
  kDataOut.Set(ctx, std::move(dataset));
  return Status::Ok();
}

}  // namespace sluice::tabular
