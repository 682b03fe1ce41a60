// regression-metrics: evaluates a trained regressor on one split (MSE, RMSE, MAE, R2 in
// the target's own units), writes its predictions and a predicted-vs-actual plot.
#include <torch/cuda.h>
#include <torch/nn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
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
const sluice::In<sluice::TrainedModel> kModelIn{"model", "the trained regressor"};

// Parameters, declared once for Describe() and Run().
const sluice::Param<std::string> kSplitParam{"split"};
const sluice::Param<int64_t> kBatchSizeParam{"batch_size"};

using sluice::Status;

using sluice::Goal;
using sluice::MetricSpec;
const MetricSpec kMse{"mse", Goal::kMinimize, "mean squared error, in the target's units squared"};
const MetricSpec kRmse{"rmse", Goal::kMinimize, "root mean squared error, in the target's units"};
const MetricSpec kMae{"mae", Goal::kMinimize, "mean absolute error, in the target's units"};
const MetricSpec kR2{"r2", Goal::kMaximize, "coefficient of determination"};

class RegressionMetrics final : public sluice::Stage {
 public:
  static sluice::Contract Describe() {
    sluice::Contract contract =
        sluice::Contract("regression-metrics", "0.1.0", sluice::Kind::kEval)
            .doc(
                "MSE, RMSE, MAE and R2 (scikit-learn definitions) in the target's units, inference latency; "
                "predictions and a predicted-vs-actual plot")
            .input(kDataIn)
            .input(kModelIn)
            .param(kSplitParam.Default("test").choices({"test", "validation", "train"}).doc("which split to evaluate"))
            .param(kBatchSizeParam.Default(1024)
                       .range(1, 1 << 20)
                       .doc(std::string("examples per timed inference batch ") + sluice::inference::kPassesDoc));
    for (const MetricSpec& m : {kMse, kRmse, kMae, kR2}) contract.metric(m);
    return sluice::inference::DeclareMetrics(contract);
  }

  Status Run(sluice::StageContext& ctx) override {
    const sluice::Params& p = ctx.params();
    auto data = kDataIn.Get(ctx);
    auto model = kModelIn.Get(ctx);
    if (data->task != sluice::Task::kRegression || model->task != sluice::Task::kRegression) {
      return Status::InvalidArgument("regression-metrics needs regression data and model; use classification-metrics");
    }
    const std::string split_name = kSplitParam.Get(p);
    const sluice::Split& split = data->split(split_name);
    const int64_t n = split.size();
    if (n == 0) return Status::InvalidArgument("the " + split_name + " split is empty");
    std::vector<double> predictions, batch_ms;
    predictions.reserve(static_cast<size_t>(n));
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
        torch::Tensor out = sluice::inference::ForwardInPasses(*model->network, x, pass);
        if (model->device.is_cuda()) torch::cuda::synchronize();
        batch_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        torch::Tensor values =
            out.reshape({-1}).to(torch::kCPU, torch::kFloat64).mul(model->target_scale).add(model->target_shift);
        predictions.insert(predictions.end(), values.data_ptr<double>(), values.data_ptr<double>() + values.numel());
      }
    }
    torch::Tensor t = split.targets.to(torch::kFloat64).mul(data->target_scale).add(data->target_shift).contiguous();
    std::vector<double> targets(t.data_ptr<double>(), t.data_ptr<double>() + n);
    const sluice::metrics::RegressionReport r = sluice::metrics::Regress(targets, predictions);
    const std::pair<const MetricSpec&, double> values[] = {
        {kMse, r.mse},
        {kRmse, r.rmse},
        {kMae, r.mae},
        {kR2, r.r2},
    };
    for (const auto& [metric, value] : values) ctx.Log(metric, 0, value);
    sluice::inference::LogMetrics(ctx, batch_ms, n);

    const std::string dir = ctx.ScratchDir();
    std::string csv = "index,target,pred\n";
    char buf[96];
    for (int64_t i = 0; i < n; ++i) {
      std::snprintf(buf, sizeof buf, "%lld,%.17g,%.9g\n", static_cast<long long>(i), targets[static_cast<size_t>(i)],
                    predictions[static_cast<size_t>(i)]);
      csv += buf;
    }
    std::ofstream(dir + "/predictions.csv", std::ios::trunc) << csv;
    SLUICE_RETURN_IF_ERROR(ctx.AddArtifact("predictions", dir + "/predictions.csv"));
    // At most 2,000 points in the picture (evenly spaced rows), so it stays light.
    std::vector<double> xs, ys;
    const size_t stride = std::max<size_t>(1, targets.size() / 2000);
    for (size_t i = 0; i < targets.size(); i += stride) {
      xs.push_back(targets[i]);
      ys.push_back(predictions[i]);
    }
    const std::string plot =
        sluice::svg::LineChart({{data->target_name.empty() ? "examples" : data->target_name, xs, ys, false}},
                               {"Predicted against actual (R2 " + std::to_string(r.r2).substr(0, 5) + ")", "actual",
                                "predicted", false, false, false, true});
    if (!sluice::svg::WriteFile(dir + "/predicted_vs_actual.svg", plot)) return Status::IoError("cannot write plot");
    SLUICE_RETURN_IF_ERROR(ctx.AddArtifact("predicted_vs_actual", dir + "/predicted_vs_actual.svg"));
    std::snprintf(buf, sizeof buf, "%s split, %lld examples: rmse %.4g, mae %.4g, r2 %.4f", split_name.c_str(),
                  static_cast<long long>(n), r.rmse, r.mae, r.r2);
    ctx.Info(buf);
    return Status::Ok();
  }
};

}  // namespace

SLUICE_PLUGIN(RegressionMetrics)
