// model-server: hands a bundle's model to `sluice serve`, which answers HTTP requests with
// it. `sluice serve` runs it after the bundle's model plugin has rebuilt the architecture;
// it returns when the server lets the model go. Rows become predictions as in `sluice
// predict` (bundle_model.hpp): a row gets the same numbers from either.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "bundle_model.hpp"
#include "sluice/excerpt.hpp"
#include "sluice/plugin.hpp"
#include "sluice/services.hpp"

namespace {

using sluice::InferenceValue;
using sluice::Status;
using sluice::inference::BundleModel;
namespace fs = std::filesystem;
namespace tabular = sluice::tabular;

const sluice::In<sluice::ModelSpec> kModelIn{"model", "the bundle's architecture, rebuilt by its model plugin"};
const sluice::Param<std::string> kBundleParam{"bundle"};
const sluice::Param<std::string> kDeviceParam{"device"};
const sluice::Param<std::string> kPrecisionParam{"precision"};

std::string Where(size_t row, const std::string& column) {
  return "row " + std::to_string(row + 1) + ", column '" + column + "'";
}

const char* KindName(InferenceValue::Kind kind) {
  switch (kind) {
    case InferenceValue::Kind::kMissing:
      return "null";
    case InferenceValue::Kind::kNumber:
      return "a number";
    case InferenceValue::Kind::kText:
      return "a string";
    case InferenceValue::Kind::kNumbers:
      return "a list";
  }
  return "?";
}

// A number written as a CSV file would hold it, for a categorical column: 2 as "2".
std::string NumberText(double x) {
  char buf[40];
  if (x == std::trunc(x) && std::fabs(x) < 1e15) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(x));
  } else {
    std::snprintf(buf, sizeof buf, "%.17g", x);
  }
  return buf;
}

class Served final : public sluice::ServedModel {
 public:
  Served(std::unique_ptr<BundleModel> model, const std::string& precision) : model_(std::move(model)) {
    info_.precision = precision;
    info_.task = model_->task();
    info_.output_width = model_->output_width();
    info_.max_batch = model_->max_batch(int64_t{1} << 20);
    const nlohmann::json& names = model_->manifest().value("class_names", nlohmann::json::array());
    if (info_.task == "classification") info_.class_names = names.get<std::vector<std::string>>();
    switch (model_->input_kind()) {
      case BundleModel::InputKind::kImage:
        info_.inputs.push_back({"pixels", "FP32", model_->image_shape()});
        break;
      case BundleModel::InputKind::kText:
        info_.inputs.push_back({model_->text_preprocessing().text_column, "BYTES", {}});
        info_.target = model_->text_preprocessing().target;
        break;
      case BundleModel::InputKind::kTable:
        for (const tabular::Column& column : model_->table_preprocessing().inputs) {
          info_.inputs.push_back({column.name, column.type == tabular::ColumnType::kNumeric ? "FP64" : "BYTES", {}});
        }
        info_.target = model_->table_preprocessing().target;
        break;
    }
    const std::vector<std::string> na = tabular::ReadOptions().na_values;
    na_.insert(na.begin(), na.end());
  }

  const sluice::ServedModelInfo& info() const override { return info_; }

  Status Predict(const std::vector<std::vector<InferenceValue>>& rows, std::vector<double>& out) override {
    try {
      sluice::Inputs x;
      switch (model_->input_kind()) {
        case BundleModel::InputKind::kImage:
          SLUICE_RETURN_IF_ERROR(Images(rows, x));
          break;
        case BundleModel::InputKind::kText:
          SLUICE_RETURN_IF_ERROR(Texts(rows, x));
          break;
        case BundleModel::InputKind::kTable:
          SLUICE_RETURN_IF_ERROR(Table(rows, x));
          break;
      }
      const torch::Tensor y = model_->Outputs(x);
      out.assign(y.data_ptr<double>(), y.data_ptr<double>() + y.numel());
      return Status::Ok();
    } catch (const std::exception& e) {
      return Status::Internal("inference failed: " + sluice::MessageExcerpt(e, 1000));
    }
  }

 private:
  // Cells as a CSV file would give them: text in the missing-value set is missing, text in
  // a numeric column must be a number.
  Status Table(const std::vector<std::vector<InferenceValue>>& rows, sluice::Inputs& x) const {
    tabular::Table table;
    table.source = "request";
    table.columns = model_->table_preprocessing().inputs;
    table.rows.reserve(rows.size());
    for (size_t r = 0; r < rows.size(); ++r) {
      std::vector<tabular::Cell> cells(table.columns.size());
      for (size_t c = 0; c < cells.size(); ++c) {
        const InferenceValue& v = rows[r][c];
        tabular::Cell& cell = cells[c];
        const bool numeric = table.columns[c].type == tabular::ColumnType::kNumeric;
        switch (v.kind) {
          case InferenceValue::Kind::kMissing:
            break;
          case InferenceValue::Kind::kNumber:
            cell.missing = false;
            cell.number = v.number;
            if (!numeric) cell.text = NumberText(v.number);
            break;
          case InferenceValue::Kind::kText:
            cell.text = v.text;
            cell.missing = na_.count(v.text) > 0;
            if (!cell.missing && numeric && !tabular::ParseNumber(v.text, cell.number)) {
              return Status::InvalidArgument(Where(r, table.columns[c].name) + ": '" + sluice::Excerpt(v.text) +
                                             "' is not a finite number");
            }
            break;
          case InferenceValue::Kind::kNumbers:
            return Status::InvalidArgument(Where(r, table.columns[c].name) + ": expected " +
                                           (numeric ? "a number" : "a string") + ", got a list");
        }
      }
      table.rows.push_back(std::move(cells));
      table.lines.push_back(static_cast<int64_t>(r + 1));
    }
    return model_->TableInputs(table, x, nullptr);
  }

  Status Texts(const std::vector<std::vector<InferenceValue>>& rows, sluice::Inputs& x) const {
    std::vector<std::string> texts;
    texts.reserve(rows.size());
    for (size_t r = 0; r < rows.size(); ++r) {
      const InferenceValue& v = rows[r][0];
      if (v.kind != InferenceValue::Kind::kText) {
        return Status::InvalidArgument(Where(r, info_.inputs[0].name) + ": expected a string, got " + KindName(v.kind));
      }
      texts.push_back(v.text);
    }
    x = model_->TextInputs(texts, nullptr);
    return Status::Ok();
  }

  Status Images(const std::vector<std::vector<InferenceValue>>& rows, sluice::Inputs& x) const {
    const std::vector<int64_t>& shape = model_->image_shape();
    const int64_t size = shape[0] * shape[1] * shape[2];
    torch::Tensor pixels = torch::empty({static_cast<int64_t>(rows.size()), shape[0], shape[1], shape[2]});
    float* data = pixels.data_ptr<float>();
    for (size_t r = 0; r < rows.size(); ++r) {
      const InferenceValue& v = rows[r][0];
      if (v.kind != InferenceValue::Kind::kNumbers) {
        return Status::InvalidArgument(Where(r, "pixels") + ": expected " + std::to_string(size) +
                                       " pixel values, got " + KindName(v.kind));
      }
      if (static_cast<int64_t>(v.numbers.size()) != size) {
        return Status::InvalidArgument(Where(r, "pixels") + ": expected " + std::to_string(size) + " pixel values (" +
                                       std::to_string(shape[0]) + "x" + std::to_string(shape[1]) + "x" +
                                       std::to_string(shape[2]) + "), got " + std::to_string(v.numbers.size()));
      }
      for (int64_t i = 0; i < size; ++i) data[static_cast<int64_t>(r) * size + i] = static_cast<float>(v.numbers[i]);
    }
    x = model_->ImageInputs(std::move(pixels));
    return Status::Ok();
  }

  std::unique_ptr<BundleModel> model_;
  sluice::ServedModelInfo info_;
  std::set<std::string> na_;
};

class ModelServer final : public sluice::Stage {
 public:
  static sluice::Contract Describe() {
    return sluice::Contract("model-server", "0.1.0", sluice::Kind::kDeploy)
        .doc("Serves a model bundle over HTTP through `sluice serve` (MLflow scoring and KServe v2)")
        .input(kModelIn)
        .param(kBundleParam.Required().format(sluice::StringFormat::kDirectory).doc("the bundle folder"))
        .param(kDeviceParam.Default("cpu").format(sluice::StringFormat::kDevice).doc("where to run"))
        .param(
            kPrecisionParam.Default("fp32")
                .choices({"fp32", "bf16"})
                .doc("bf16: matrix products and convolutions in bfloat16 on the CPU (faster, answers within bfloat16's "
                     "precision)"));
  }

  Status Run(sluice::StageContext& ctx) override {
    const sluice::Params& p = ctx.params();
    sluice::ServingV1& serving = ctx.RequireService<sluice::ServingV1>();
    sluice::inference::Precision precision = sluice::inference::Precision::kFp32;
    sluice::inference::PrecisionFromName(kPrecisionParam.Get(p), precision);  // the contract checked the choice
    std::unique_ptr<BundleModel> model;
    SLUICE_RETURN_IF_ERROR(BundleModel::Load(fs::path(kBundleParam.Get(p)), *kModelIn.Get(ctx),
                                             sluice::ResolveDevice(kDeviceParam.Get(p)), model, precision));
    Served served(std::move(model), kPrecisionParam.Get(p));
    return serving.Serve(served);
  }
};

}  // namespace

SLUICE_PLUGIN(ModelServer)
