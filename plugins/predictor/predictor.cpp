// predictor: batch inference with a bundle on new data (CSV, ARFF or IDX images), applying
// the bundle's own preprocessing. `sluice predict` runs it after the bundle's model plugin
// has rebuilt the architecture.
#include <torch/cuda.h>
#include <torch/nn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "idx_reader.hpp"
#include "inference.hpp"
#include "preprocess.hpp"
#include "sluice/bundle.hpp"
#include "sluice/plugin.hpp"
#include "sluice/torch.hpp"
#include "table.hpp"
#include "text_encoding.hpp"
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
const sluice::Param<int64_t> kBatchSizeParam{"batch_size"};
const sluice::Param<std::string> kEncodingParam{"encoding"};
const sluice::Param<std::string> kBundleParam{"bundle"};
const sluice::Param<std::string> kInputParam{"input"};
const sluice::Param<std::string> kOutputParam{"output"};
const sluice::Param<std::string> kTextColumnParam{"text_column"};

// Text batches are at most this many texts: attention's memory grows with the batch
// times the square of the length.
constexpr int64_t kMaxTextBatch = 64;

using sluice::Status;
namespace fs = std::filesystem;
using json = nlohmann::json;

Status ReadJson(const fs::path& path, json& out) {
  std::ifstream in(path);
  if (!in) return Status::NotFound(path.string() + ": cannot open");
  try {
    out = json::parse(in);
  } catch (const json::exception& e) {
    return Status::InvalidArgument(path.string() + ": " + e.what());
  }
  return Status::Ok();
}

// Images from an IDX file, normalized as the bundle's preprocessing says.
Status ImageInputs(const std::string& path, const json& pre, sluice::Inputs& out) {
  sluice::idx::IdxArray images;
  SLUICE_RETURN_IF_ERROR(sluice::idx::ReadIdx(path, 3, images));
  const auto shape = pre.at("shape").get<std::vector<int64_t>>();
  if (images.dims[1] != shape[1] || images.dims[2] != shape[2]) {
    return Status::InvalidArgument(path + ": images are " + std::to_string(images.dims[1]) + "x" +
                                   std::to_string(images.dims[2]) + ", the model takes " + std::to_string(shape[1]) +
                                   "x" + std::to_string(shape[2]));
  }
  torch::Tensor x = torch::from_blob(images.data.data(), {images.dims[0], shape[0], shape[1], shape[2]}, torch::kUInt8)
                        .to(torch::kFloat32);
  x.mul_(pre.at("input_scale").get<double>()).sub_(pre.at("mean").get<double>()).div_(pre.at("std").get<double>());
  out.dense = x;
  return Status::Ok();
}

// Rows of a CSV or ARFF file, with the columns the model was trained on.
Status TableInputs(const std::string& path, sluice::tabular::Encoding encoding, const json& pre, sluice::Inputs& out,
                   std::vector<std::string>& notes) {
  sluice::tabular::Preprocessor preprocessor;
  SLUICE_RETURN_IF_ERROR(sluice::tabular::Preprocessor::FromJson(pre, preprocessor));
  sluice::tabular::ReadOptions options;
  options.known_columns = preprocessor.inputs;
  options.encoding = encoding;
  sluice::tabular::Table table;
  SLUICE_RETURN_IF_ERROR(sluice::tabular::ReadTable(path, options, table));
  // Every column the model reads must be there; say all that are missing at once.
  std::string missing;
  for (const auto& column : preprocessor.inputs) {
    if (!table.Find(column.name)) missing += (missing.empty() ? "'" : ", '") + column.name + "'";
  }
  if (!missing.empty()) {
    return Status::InvalidArgument(path + ": the model reads columns this file lacks: " + missing);
  }
  std::string ignored;
  for (const auto& column : table.columns) {
    const bool used = std::any_of(preprocessor.inputs.begin(), preprocessor.inputs.end(),
                                  [&](const auto& c) { return c.name == column.name; });
    if (!used && column.name != preprocessor.target) ignored += (ignored.empty() ? "" : ", ") + column.name;
  }
  if (!ignored.empty()) notes.push_back("ignoring columns the model does not read: " + ignored);
  std::vector<size_t> rows(table.rows.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = i;
  std::vector<float> dense;
  std::vector<int64_t> codes;
  SLUICE_RETURN_IF_ERROR(preprocessor.Transform(table, rows, dense, codes));
  const auto n = static_cast<int64_t>(rows.size());
  out.dense = torch::from_blob(dense.data(), {n, preprocessor.dense_width()}, torch::kFloat32).clone();
  const auto embedded = static_cast<int64_t>(preprocessor.cardinality().size());
  if (embedded > 0) out.categorical = torch::tensor(codes, torch::kInt64).reshape({n, embedded});
  return Status::Ok();
}

// Texts of a CSV, TSV, JSON Lines or ARFF file, tokenized as the model's preprocessing says.
Status TextInputs(const std::string& path, sluice::tabular::Encoding encoding, const json& pre,
                  const std::string& text_column, sluice::Inputs& out, std::vector<std::string>& notes) {
  sluice::text::TextPreprocessing text;
  SLUICE_RETURN_IF_ERROR(sluice::text::TextPreprocessing::FromJson(pre, text));
  sluice::text::Texts texts;
  SLUICE_RETURN_IF_ERROR(
      sluice::text::ReadTexts(path, text_column.empty() ? text.text_column : text_column, "", encoding, texts));
  int64_t truncated = 0;
  out.dense = sluice::text::EncodeTexts(*text.tokenizer, texts.texts, text.max_length, &truncated);
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
    return sluice::Contract("predictor", "0.2.0", sluice::Kind::kDeploy)
        .doc("Batch inference with a model bundle on CSV, ARFF, JSON Lines or IDX input (used by `sluice predict`)")
        .input(kModelIn)
        .param(kBundleParam.Required().format(sluice::StringFormat::kDirectory).doc("the bundle folder"))
        .param(kInputParam.Required()
                   .format(sluice::StringFormat::kFile)
                   .doc("rows to predict: .csv, .arff, or IDX images"))
        .param(kOutputParam.Required().doc("where to write index,pred,p_0.. rows"))
        .param(kDeviceParam.Default("cpu").format(sluice::StringFormat::kDevice).doc("where to run"))
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
    const fs::path bundle(kBundleParam.Get(p));
    json manifest, pre;
    SLUICE_RETURN_IF_ERROR(ReadJson(bundle / sluice::bundle::kManifestFile, manifest));
    SLUICE_RETURN_IF_ERROR(ReadJson(bundle / sluice::bundle::kPreprocessingFile, pre));
    auto spec = kModelIn.Get(ctx);

    sluice::InputSchema schema;
    const json& s = manifest.at("schema");
    schema.sample_shape = s.at("sample_shape").get<std::vector<int64_t>>();
    schema.categorical_cardinality = s.at("categorical_cardinality").get<std::vector<int64_t>>();
    schema.categorical_names = s.at("categorical_names").get<std::vector<std::string>>();
    schema.num_outputs = s.at("num_outputs").get<int64_t>();
    const bool regression = manifest.at("task") == "regression";
    const bool embedding = manifest.at("task") == "embedding";
    const torch::Device device = sluice::ResolveDevice(kDeviceParam.Get(p));
    std::shared_ptr<sluice::Network> net = spec->Build(schema);
    sluice::LoadWeights(*net, (bundle / sluice::bundle::kWeightsFile).string());
    net->to(device);
    net->eval();

    sluice::Inputs inputs;
    std::vector<std::string> notes;
    if (Status checked = sluice::CheckPreprocessing(pre.dump(), schema.sample_shape); !checked.ok()) {
      return Status::InvalidArgument((bundle / sluice::bundle::kPreprocessingFile).string() + ": " + checked.message());
    }
    const std::string input = kInputParam.Get(p);
    const std::string kind = pre.value("kind", "");
    if (kind == "image") {  // CheckPreprocessing admits the image, table and text kinds only
      SLUICE_RETURN_IF_ERROR(ImageInputs(input, pre, inputs));
    } else if (kind == "text") {
      SLUICE_RETURN_IF_ERROR(TextInputs(input, sluice::tabular::EncodingFromName(kEncodingParam.Get(p)), pre,
                                        kTextColumnParam.Get(p), inputs, notes));
    } else {
      SLUICE_RETURN_IF_ERROR(
          TableInputs(input, sluice::tabular::EncodingFromName(kEncodingParam.Get(p)), pre, inputs, notes));
    }
    for (const std::string& note : notes) ctx.Info(note);
    const int64_t n = inputs.size();

    std::ofstream out(kOutputParam.Get(p), std::ios::binary | std::ios::trunc);
    if (!out) return Status::IoError(kOutputParam.Get(p) + ": cannot write");
    out << (embedding ? "index" : "index,pred");
    for (int64_t c = 0; !regression && c < schema.num_outputs; ++c) out << (embedding ? ",e_" : ",p_") << c;
    out << "\n";
    std::vector<double> batch_ms;
    std::string text;
    char buf[40];
    torch::NoGradGuard no_grad;
    const int64_t batch = kind == "text" ? std::min(kBatchSizeParam.Get(p), kMaxTextBatch) : kBatchSizeParam.Get(p);
    const double shift = manifest.value("target_shift", 0.0), scale = manifest.value("target_scale", 1.0);
    for (int64_t begin = 0; begin < n; begin += batch) {
      if (ctx.StopRequested()) return Status::Cancelled("stopped after " + std::to_string(begin) + " rows");
      const int64_t end = std::min(n, begin + batch);
      sluice::Inputs x;
      x.dense = inputs.dense.slice(0, begin, end);
      if (inputs.categorical.defined()) x.categorical = inputs.categorical.slice(0, begin, end);
      x = x.To(device);
      const auto t0 = std::chrono::steady_clock::now();
      torch::Tensor y = net->Forward(x);
      if (device.is_cuda()) torch::cuda::synchronize();
      batch_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      text.clear();
      if (embedding) {
        torch::Tensor e = y.to(torch::kCPU, torch::kFloat64).contiguous();
        const double* row = e.data_ptr<double>();
        for (int64_t i = 0; i < e.size(0); ++i, row += e.size(1)) {
          text += std::to_string(begin + i);
          for (int64_t c = 0; c < e.size(1); ++c) {
            std::snprintf(buf, sizeof buf, ",%.9g", row[c]);
            text += buf;
          }
          text += "\n";
        }
      } else if (regression) {
        torch::Tensor v = y.reshape({-1}).to(torch::kCPU, torch::kFloat64).mul(scale).add(shift).contiguous();
        for (int64_t i = 0; i < v.size(0); ++i) {
          std::snprintf(buf, sizeof buf, "%lld,%.9g\n", static_cast<long long>(begin + i), v.data_ptr<double>()[i]);
          text += buf;
        }
      } else {
        torch::Tensor prob = torch::softmax(y.to(torch::kFloat32), 1).to(torch::kCPU, torch::kFloat64).contiguous();
        const double* row = prob.data_ptr<double>();
        const int64_t k = prob.size(1);
        for (int64_t i = 0; i < prob.size(0); ++i, row += k) {
          text += std::to_string(begin + i) + "," + std::to_string(std::max_element(row, row + k) - row);
          for (int64_t c = 0; c < k; ++c) {
            std::snprintf(buf, sizeof buf, ",%.9g", row[c]);
            text += buf;
          }
          text += "\n";
        }
      }
      out << text;
    }
    out.close();
    if (!out) return Status::IoError(kOutputParam.Get(p) + ": write failed");
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
