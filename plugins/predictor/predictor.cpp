// predictor: batch inference with a bundle on new data (CSV, ARFF or IDX images), applying
// the bundle's own preprocessing. `sluice predict` runs it after the bundle's model plugin
// has rebuilt the architecture.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "bundle_model.hpp"
#include "idx_reader.hpp"
#include "inference.hpp"
#include "sluice/plugin.hpp"
#include "text_files.hpp"

namespace {

// Ports, declared once for Describe() and Run().
const sluice::In<sluice::ModelSpec> kModelIn{"model", "the bundle's architecture, rebuilt by its model plugin"};

// Metrics, declared once; latency and memory as the evaluation stages declare them.
namespace inference = sluice::inference;
const sluice::MetricSpec kRows{"rows", sluice::Goal::kNone, "rows predicted"};
const sluice::MetricSpec kSamplesPerSec{"samples_per_sec", sluice::Goal::kMaximize, "inference throughput"};

// Parameters, declared once for Describe() and Run().
const sluice::Param<std::string> kDeviceParam{"device"};
const sluice::Param<std::string> kPrecisionParam{"precision"};
const sluice::Param<int64_t> kBatchSizeParam{"batch_size"};
const sluice::Param<std::string> kEncodingParam{"encoding"};
const sluice::Param<std::string> kBundleParam{"bundle"};
const sluice::Param<std::string> kInputParam{"input"};
const sluice::Param<std::string> kOutputParam{"output"};
const sluice::Param<std::string> kTextColumnParam{"text_column"};

using sluice::Status;
using sluice::inference::BundleModel;
namespace fs = std::filesystem;

// Images from an IDX file, of the size the model takes.
Status ImageInputs(const std::string& path, const BundleModel& model, sluice::Inputs& out) {
  sluice::idx::IdxArray images;
  SLUICE_RETURN_IF_ERROR(sluice::idx::ReadIdx(path, 3, images));
  const std::vector<int64_t>& shape = model.image_shape();
  if (images.dims[1] != shape[1] || images.dims[2] != shape[2]) {
    return Status::InvalidArgument(path + ": images are " + std::to_string(images.dims[1]) + "x" +
                                   std::to_string(images.dims[2]) + ", the model takes " + std::to_string(shape[1]) +
                                   "x" + std::to_string(shape[2]));
  }
  out = model.ImageInputs(
      torch::from_blob(images.data.data(), {images.dims[0], shape[0], shape[1], shape[2]}, torch::kUInt8)
          .to(torch::kFloat32));
  return Status::Ok();
}

// Rows of a CSV, TSV, JSON Lines or ARFF file, with the columns the model was trained on.
Status TableInputs(const std::string& path, sluice::tabular::Encoding encoding, const BundleModel& model,
                   sluice::Inputs& out, std::vector<std::string>& notes) {
  sluice::tabular::ReadOptions options;
  options.known_columns = model.table_preprocessing().inputs;
  options.encoding = encoding;
  sluice::tabular::Table table;
  SLUICE_RETURN_IF_ERROR(sluice::tabular::ReadTable(path, options, table));
  return model.TableInputs(table, out, &notes);
}

// Texts of a CSV, TSV, JSON Lines or ARFF file, tokenized as the model's preprocessing says.
Status TextInputs(const std::string& path, sluice::tabular::Encoding encoding, const BundleModel& model,
                  const std::string& text_column, sluice::Inputs& out, std::vector<std::string>& notes) {
  const sluice::text::TextPreprocessing& text = model.text_preprocessing();
  sluice::text::Texts texts;
  SLUICE_RETURN_IF_ERROR(
      sluice::text::ReadTexts(path, text_column.empty() ? text.text_column : text_column, "", encoding, texts));
  int64_t truncated = 0;
  out = model.TextInputs(texts.texts, &truncated);
  if (truncated > 0) {
    notes.push_back(std::to_string(truncated) + " of " + std::to_string(texts.texts.size()) +
                    " texts were longer than the model's " + std::to_string(text.max_length) +
                    " tokens and were truncated");
  }
  return Status::Ok();
}

class Predictor final : public sluice::Stage {
 public:
  static sluice::Contract Describe() {
    return sluice::Contract("predictor", "0.3.0", sluice::Kind::kDeploy)
        .doc("Batch inference with a model bundle on CSV, ARFF, JSON Lines or IDX input (used by `sluice predict`)")
        .input(kModelIn)
        .param(kBundleParam.Required().format(sluice::StringFormat::kDirectory).doc("the bundle folder"))
        .param(kInputParam.Required()
                   .format(sluice::StringFormat::kFile)
                   .doc("rows to predict: .csv, .tsv, .jsonl, .arff, or IDX images"))
        .param(kOutputParam.Required().doc("where to write index,pred,p_0.. rows"))
        .param(kDeviceParam.Default("cpu").format(sluice::StringFormat::kDevice).doc("where to run"))
        .param(
            kPrecisionParam.Default("fp32")
                .choices({"fp32", "bf16"})
                .doc("bf16: matrix products and convolutions in bfloat16 on the CPU (faster, answers within bfloat16's "
                     "precision)"))
        .param(kBatchSizeParam.Default(1024).range(1, 1 << 20).doc("rows per inference batch (text: at most 64)"))
        .param(
            kTextColumnParam.Default("").doc("text models: the column holding the text (default: the one trained on)"))
        .param(
            kEncodingParam.Default("utf-8").choices({"utf-8", "latin-1"}).doc("the text encoding of CSV or ARFF input"))
        .metric(kRows)
        .metric(inference::kLatencyP50)
        .metric(inference::kLatencyP95)
        .metric(kSamplesPerSec)
        .metric(inference::kPeakMemory);
  }

  Status Run(sluice::StageContext& ctx) override {
    const sluice::Params& p = ctx.params();
    const torch::Device device = sluice::ResolveDevice(kDeviceParam.Get(p));
    sluice::inference::Precision precision = sluice::inference::Precision::kFp32;
    sluice::inference::PrecisionFromName(kPrecisionParam.Get(p), precision);  // the contract checked the choice
    if (precision == sluice::inference::Precision::kBf16) {
      ctx.Info(
          "precision bf16: matrix products and convolutions in bfloat16 (float32 accumulation, softmax and "
          "normalization in float32)");
    }
    std::unique_ptr<BundleModel> model;
    SLUICE_RETURN_IF_ERROR(
        BundleModel::Load(fs::path(kBundleParam.Get(p)), *kModelIn.Get(ctx), device, model, precision));
    const bool regression = model->task() == "regression";
    const bool embedding = model->task() == "embedding";

    sluice::Inputs inputs;
    std::vector<std::string> notes;
    const std::string input = kInputParam.Get(p);
    const auto encoding = sluice::tabular::EncodingFromName(kEncodingParam.Get(p));
    switch (model->input_kind()) {
      case BundleModel::InputKind::kImage:
        SLUICE_RETURN_IF_ERROR(ImageInputs(input, *model, inputs));
        break;
      case BundleModel::InputKind::kText:
        SLUICE_RETURN_IF_ERROR(TextInputs(input, encoding, *model, kTextColumnParam.Get(p), inputs, notes));
        break;
      case BundleModel::InputKind::kTable:
        SLUICE_RETURN_IF_ERROR(TableInputs(input, encoding, *model, inputs, notes));
        break;
    }
    for (const std::string& note : notes) ctx.Info(note);
    const int64_t n = inputs.size();
    const int64_t width = model->output_width();

    std::ofstream out(kOutputParam.Get(p), std::ios::binary | std::ios::trunc);
    if (!out) return Status::IoError(kOutputParam.Get(p) + ": cannot write");
    out << (embedding ? "index" : "index,pred");
    for (int64_t c = 0; !regression && c < width; ++c) out << (embedding ? ",e_" : ",p_") << c;
    out << "\n";
    std::vector<double> batch_ms;
    std::string text;
    char buf[40];
    const int64_t batch = model->max_batch(kBatchSizeParam.Get(p));
    for (int64_t begin = 0; begin < n; begin += batch) {
      if (ctx.StopRequested()) return Status::Cancelled("stopped after " + std::to_string(begin) + " rows");
      const int64_t end = std::min(n, begin + batch);
      sluice::Inputs x;
      x.dense = inputs.dense.slice(0, begin, end);
      if (inputs.categorical.defined()) x.categorical = inputs.categorical.slice(0, begin, end);
      const auto t0 = std::chrono::steady_clock::now();
      const torch::Tensor y = model->Outputs(x);
      batch_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      text.clear();
      const double* row = y.data_ptr<double>();
      for (int64_t i = 0; i < y.size(0); ++i, row += width) {
        text += std::to_string(begin + i);
        if (!embedding) {
          text += ",";
          if (regression) {
            std::snprintf(buf, sizeof buf, "%.9g", row[0]);
            text += buf;
          } else {
            text += std::to_string(std::max_element(row, row + width) - row);
          }
        }
        for (int64_t c = 0; !regression && c < width; ++c) {
          std::snprintf(buf, sizeof buf, ",%.9g", row[c]);
          text += buf;
        }
        text += "\n";
      }
      out << text;
      // A full disk stops the predictions where it happens, not after the last batch.
      if (!out) return Status::IoError(kOutputParam.Get(p) + ": cannot write: " + std::strerror(errno ? errno : EIO));
    }
    out.close();
    if (!out) return Status::IoError(kOutputParam.Get(p) + ": cannot write: " + std::strerror(errno ? errno : EIO));
    std::sort(batch_ms.begin(), batch_ms.end());
    double total = 0;
    for (double ms : batch_ms) total += ms;
    ctx.Log(kRows, 0, static_cast<double>(n));
    if (!batch_ms.empty()) {
      ctx.Log(inference::kLatencyP50, 0, batch_ms[batch_ms.size() / 2]);
      ctx.Log(inference::kLatencyP95, 0, batch_ms[std::min(batch_ms.size() - 1, batch_ms.size() * 95 / 100)]);
      ctx.Log(kSamplesPerSec, 0, static_cast<double>(n) / (total / 1000.0));
    }
    ctx.Log(inference::kPeakMemory, 0, inference::PeakMemoryMb());
    return Status::Ok();
  }
};

}  // namespace

SLUICE_PLUGIN(Predictor)
