// classification-metrics: evaluates a trained classifier on one split; writes the
// predictions so anyone can recompute the numbers, and pictures of the results.
#include <torch/cuda.h>
#include <torch/nn.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "forward_passes.hpp"
#include "inference.hpp"
#include "metrics.hpp"
#include "sluice/plugin.hpp"
#include "sluice/torch.hpp"
#include "svg.hpp"

namespace {

// Ports, declared once for Describe() and Run().
const sluice::In<sluice::TensorDataset> kDataIn{"data", "the dataset holding the split to evaluate"};
const sluice::In<sluice::TrainedModel> kModelIn{"model", "the trained classifier"};

// Parameters, declared once for Describe() and Run().
const sluice::Param<std::string> kSplitParam{"split"};
const sluice::Param<int64_t> kBatchSizeParam{"batch_size"};
const sluice::Param<int64_t> kCalibrationBinsParam{"calibration_bins"};

using sluice::Status;

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  return out ? Status::Ok() : Status::IoError("cannot write " + path + ": " + std::strerror(errno ? errno : EIO));
}

std::string Csv(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

using sluice::Goal;
using sluice::MetricSpec;
const MetricSpec kAccuracy{"accuracy", Goal::kMaximize, "share of examples classified right"};
const MetricSpec kPrecisionMacro{"precision_macro", Goal::kMaximize, "precision, unweighted mean over classes"};
const MetricSpec kRecallMacro{"recall_macro", Goal::kMaximize, "recall, unweighted mean over classes"};
const MetricSpec kF1Macro{"f1_macro", Goal::kMaximize, "F1, unweighted mean over classes"};
const MetricSpec kPrecisionWeighted{"precision_weighted", Goal::kMaximize, "precision, weighted by class support"};
const MetricSpec kRecallWeighted{"recall_weighted", Goal::kMaximize, "recall, weighted by class support"};
const MetricSpec kF1Weighted{"f1_weighted", Goal::kMaximize, "F1, weighted by class support"};
const MetricSpec kRocAuc{"roc_auc", Goal::kMaximize, "ROC AUC, one-vs-rest, macro"};
const MetricSpec kPrAuc{"pr_auc", Goal::kMaximize, "PR AUC (average precision), macro"};
const MetricSpec kLogLoss{"log_loss", Goal::kMinimize, "cross-entropy of the predicted probabilities"};
const MetricSpec kCalibrationError{"calibration_error", Goal::kMinimize, "expected calibration error"};

class ClassificationMetrics final : public sluice::Stage {
 public:
  static sluice::Contract Describe() {
    sluice::Contract contract =
        sluice::Contract("classification-metrics", "0.2.0", sluice::Kind::kEval)
            .doc(
                "Accuracy, precision/recall/F1, ROC and PR AUC, log loss, calibration, confusion matrix "
                "(scikit-learn definitions), inference latency; ROC, confusion and reliability images")
            .input(kDataIn)
            .input(kModelIn)
            .param(kSplitParam.Default("test").choices({"test", "validation", "train"}).doc("which split to evaluate"))
            .param(kBatchSizeParam.Default(1024)
                       .range(1, 1 << 20)
                       .doc(std::string("examples per timed inference batch ") + sluice::inference::kPassesDoc))
            .param(kCalibrationBinsParam.Default(10).range(2, 100).doc("equal-width bins of the calibration error"));
    for (const MetricSpec& m : {kAccuracy, kPrecisionMacro, kRecallMacro, kF1Macro, kPrecisionWeighted, kRecallWeighted,
                                kF1Weighted, kRocAuc, kPrAuc, kLogLoss, kCalibrationError}) {
      contract.metric(m);
    }
    return sluice::inference::DeclareMetrics(contract);
  }

  Status Run(sluice::StageContext& ctx) override {
    const sluice::Params& p = ctx.params();
    auto data = kDataIn.Get(ctx);
    auto model = kModelIn.Get(ctx);
    if (data->task != sluice::Task::kClassification || model->task != sluice::Task::kClassification) {
      return Status::InvalidArgument(
          "classification-metrics needs classification data and model; use "
          "regression-metrics for regression");
    }
    const std::string split_name = kSplitParam.Get(p);
    const sluice::Split& split = data->split(split_name);
    const int64_t n = split.size();
    const int64_t k = data->num_classes();
    if (n == 0) return Status::InvalidArgument("the " + split_name + " split is empty");
    if (static_cast<int64_t>(model->class_names.size()) != k) {
      return Status::InvalidArgument("the model was trained for " + std::to_string(model->class_names.size()) +
                                     " classes but the data has " + std::to_string(k));
    }
    ctx.RequireService<sluice::RunInfoV1>().SetEnvironment("device", model->device.str());

    // Probabilities for the whole split, as doubles in row-major order; each batch timed.
    std::vector<double> probs(static_cast<size_t>(n * k));
    std::vector<double> batch_ms;
    {
      torch::NoGradGuard no_grad;
      model->network->eval();
      const int64_t batch = kBatchSizeParam.Get(p);
      const int64_t pass = sluice::inference::RowsPerPass(data->schema(), model->device);
      for (int64_t begin = 0; begin < n; begin += batch) {
        if (ctx.StopRequested()) return Status::Cancelled("stopped during evaluation");
        const int64_t end = std::min(n, begin + batch);
        const sluice::Inputs x = data->Range(split, begin, end).To(model->device);
        const auto t0 = std::chrono::steady_clock::now();
        torch::Tensor logits = sluice::inference::ForwardInPasses(*model->network, x, pass);
        if (model->device.is_cuda()) torch::cuda::synchronize();
        batch_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        torch::Tensor prob =
            torch::softmax(logits.to(torch::kFloat32), 1).to(torch::kCPU, torch::kFloat64).contiguous();
        std::copy(prob.data_ptr<double>(), prob.data_ptr<double>() + prob.numel(), probs.begin() + begin * k);
      }
    }
    torch::Tensor targets = split.targets.to(torch::kInt64).contiguous();
    std::vector<int64_t> labels(targets.data_ptr<int64_t>(), targets.data_ptr<int64_t>() + n);
    const int bins = static_cast<int>(kCalibrationBinsParam.Get(p));
    const sluice::metrics::ClassificationReport r = sluice::metrics::Classify(labels, probs, k, bins);

    const std::pair<const MetricSpec&, double> values[] = {
        {kAccuracy, r.accuracy},
        {kPrecisionMacro, r.precision_macro},
        {kRecallMacro, r.recall_macro},
        {kF1Macro, r.f1_macro},
        {kPrecisionWeighted, r.precision_weighted},
        {kRecallWeighted, r.recall_weighted},
        {kF1Weighted, r.f1_weighted},
        {kRocAuc, r.roc_auc},
        {kPrAuc, r.pr_auc},
        {kLogLoss, r.log_loss},
        {kCalibrationError, r.calibration_error},
    };
    for (const auto& [metric, value] : values) ctx.Log(metric, 0, value);
    sluice::inference::LogMetrics(ctx, batch_ms, n);

    const std::string dir = ctx.ScratchDir();
    SLUICE_RETURN_IF_ERROR(WritePredictions(dir + "/predictions.csv", labels, probs, k));
    SLUICE_RETURN_IF_ERROR(ctx.AddArtifact("predictions", dir + "/predictions.csv"));
    SLUICE_RETURN_IF_ERROR(WriteFile(dir + "/confusion_matrix.csv", ConfusionCsv(r, data->class_names)));
    SLUICE_RETURN_IF_ERROR(ctx.AddArtifact("confusion_matrix", dir + "/confusion_matrix.csv"));
    SLUICE_RETURN_IF_ERROR(WriteFile(dir + "/per_class.csv", PerClassCsv(r, data->class_names)));
    SLUICE_RETURN_IF_ERROR(ctx.AddArtifact("per_class", dir + "/per_class.csv"));
    SLUICE_RETURN_IF_ERROR(WriteImages(ctx, dir, labels, probs, k, bins, r, data->class_names));

    char line[256];
    std::snprintf(line, sizeof line,
                  "%s split, %lld examples: accuracy %.4f, f1_macro %.4f, roc_auc %.4f, pr_auc %.4f, log_loss %.4f, "
                  "calibration_error %.4f",
                  split_name.c_str(), static_cast<long long>(n), r.accuracy, r.f1_macro, r.roc_auc, r.pr_auc,
                  r.log_loss, r.calibration_error);
    ctx.Info(line);
    return Status::Ok();
  }

 private:
  static Status WriteImages(sluice::StageContext& ctx, const std::string& dir, const std::vector<int64_t>& labels,
                            const std::vector<double>& probs, int64_t k, int bins,
                            const sluice::metrics::ClassificationReport& r, const std::vector<std::string>& names) {
    const auto uk = static_cast<size_t>(k);
    // ROC: the positive class for two classes, each class against the rest otherwise.
    std::vector<sluice::svg::Series> roc;
    for (size_t c = (k == 2 ? 1 : 0); c < uk; ++c) {
      std::vector<bool> positive(labels.size());
      std::vector<double> score(labels.size());
      for (size_t i = 0; i < labels.size(); ++i) {
        positive[i] = labels[i] == static_cast<int64_t>(c);
        score[i] = probs[i * uk + c];
      }
      const sluice::metrics::Curve curve = sluice::metrics::RocCurve(positive, score);
      const double auc = sluice::metrics::BinaryRocAuc(positive, score);
      char label[160];
      std::snprintf(label, sizeof label, "%s (AUC %.3f)", names[c].substr(0, 24).c_str(), auc);
      roc.push_back({label, curve.x, curve.y, false});
    }
    // Reliability diagram.
    sluice::svg::Series reliability{"model", {}, {}, false};
    for (const auto& bin : sluice::metrics::CalibrationBins(labels, probs, k, bins)) {
      if (bin.count == 0) continue;
      reliability.x.push_back(bin.confidence);
      reliability.y.push_back(bin.accuracy);
    }
    char title[96];
    std::snprintf(title, sizeof title, "ROC curve%s", k == 2 ? "" : "s (one vs rest)");
    const std::pair<std::string, std::string> images[] = {
        {"roc_curve", sluice::svg::LineChart(roc, {title, "false positive rate", "true positive rate", true, false})},
        {"confusion_matrix_image", sluice::svg::Heatmap(r.confusion, names, "Confusion matrix")},
        {"reliability_diagram",
         sluice::svg::LineChart(
             {reliability}, {"Reliability (calibration error " + std::to_string(r.calibration_error).substr(0, 6) + ")",
                             "confidence", "accuracy", true, true})},
    };
    for (const auto& [name, svg] : images) {
      const std::string path = dir + "/" + name + ".svg";
      if (!sluice::svg::WriteFile(path, svg))
        return Status::IoError("cannot write " + path + ": " + std::strerror(errno ? errno : EIO));
      SLUICE_RETURN_IF_ERROR(ctx.AddArtifact(name, path));
    }
    return Status::Ok();
  }

  static Status WritePredictions(const std::string& path, const std::vector<int64_t>& labels,
                                 const std::vector<double>& probs, int64_t k) {
    std::string text = "index,label,pred";
    for (int64_t c = 0; c < k; ++c) text += ",p_" + std::to_string(c);
    text += "\n";
    char buf[40];
    const auto uk = static_cast<size_t>(k);
    for (size_t i = 0; i < labels.size(); ++i) {
      const double* row = &probs[i * uk];
      const auto pred = std::max_element(row, row + uk) - row;
      text += std::to_string(i) + "," + std::to_string(labels[i]) + "," + std::to_string(pred);
      for (size_t c = 0; c < uk; ++c) {
        // Float32 probabilities printed exactly (9 significant digits round-trip).
        std::snprintf(buf, sizeof buf, ",%.9g", row[c]);
        text += buf;
      }
      text += "\n";
    }
    return WriteFile(path, text);
  }

  static std::string ConfusionCsv(const sluice::metrics::ClassificationReport& r,
                                  const std::vector<std::string>& names) {
    std::string text = "true\\pred";
    for (const std::string& name : names) text += "," + Csv(name);
    text += "\n";
    for (size_t t = 0; t < r.confusion.size(); ++t) {
      text += Csv(names[t]);
      for (int64_t count : r.confusion[t]) text += "," + std::to_string(count);
      text += "\n";
    }
    return text;
  }

  static std::string PerClassCsv(const sluice::metrics::ClassificationReport& r,
                                 const std::vector<std::string>& names) {
    std::string text = "class,name,precision,recall,f1,support\n";
    char buf[128];
    for (size_t c = 0; c < names.size(); ++c) {
      std::snprintf(buf, sizeof buf, ",%.6f,%.6f,%.6f,%lld\n", r.precision[c], r.recall[c], r.f1[c],
                    static_cast<long long>(r.support[c]));
      text += std::to_string(c) + "," + Csv(names[c]) + buf;
    }
    return text;
  }
};

}  // namespace

SLUICE_PLUGIN(ClassificationMetrics)
