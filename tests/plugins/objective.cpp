// test-objective: a torch-free plugin whose metric is a known function of its parameters,
// for sweeps: the objective (`value`) and a learning curve (`curve`, one point per epoch,
// approaching `value` from above as a loss would).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "sluice/plugin.hpp"

namespace {

using sluice::Status;

double Objective(const std::string& function, double x, double y) {
  if (function == "branin") {  // minimum 0.397887 at (-pi, 12.275), (pi, 2.275), (9.42478, 2.475)
    const double b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, t = 1 / (8 * M_PI);
    return std::pow(y - b * x * x + c * x - 6, 2) + 10 * (1 - t) * std::cos(x) + 10;
  }
  if (function == "rosenbrock") return 100 * std::pow(y - x * x, 2) + std::pow(1 - x, 2);
  return (x - 2) * (x - 2) + (y + 1) * (y + 1);  // quadratic, minimum 0 at (2, -1)
}

class ObjectiveStage final : public sluice::Stage {
 public:
  static sluice::Contract Describe() {
    return sluice::Contract("test-objective", "1.0.0", sluice::Kind::kOther)
        .doc("Test plugin: logs a known function of its parameters")
        .param(sluice::FloatParam("x", 0.0).range(-100, 100).doc("first coordinate"))
        .param(sluice::FloatParam("y", 0.0).range(-100, 100).doc("second coordinate"))
        .param(sluice::IntParam("n", 1).range(1, 1000).doc("an integer, added as (n - 4)^2 / 10"))
        .param(sluice::ChoiceParam("shape", "plain", {"plain", "shifted"}).doc("shifted adds 1"))
        .param(sluice::ChoiceParam("function", "quadratic", {"quadratic", "branin", "rosenbrock"}).doc("the function"))
        .param(sluice::IntParam("epochs", 0).range(0, 100000).doc("learning-curve points to log as `curve`"))
        .param(sluice::FloatParam("fail_above", 1e9).doc("fail when x is above this"))
        .param(sluice::StringParam("hang_once", "").doc("if this file exists: remove it, then wait until stopped"))
        .param(sluice::StringParam("hang_while", "").doc("wait while this file exists, or until stopped"))
        .param(sluice::SeedParam())
        .metric({"value", sluice::Goal::kMinimize, "the objective"})
        .metric({"curve", sluice::Goal::kMinimize, "a learning curve approaching value, one point per epoch"});
  }

  Status Run(sluice::StageContext& ctx) override {
    const sluice::Params& p = ctx.params();
    const double x = p.Float("x"), y = p.Float("y");
    if (x > p.Float("fail_above")) return Status::InvalidArgument("x = " + std::to_string(x) + " is out of bounds");
    const double n = static_cast<double>(p.Int("n"));
    const double value =
        Objective(p.String("function"), x, y) + (n - 4) * (n - 4) / 10 + (p.String("shape") == "shifted" ? 1.0 : 0.0);
    if (const std::string& flag = p.String("hang_once"); !flag.empty() && std::remove(flag.c_str()) == 0) {
      ctx.Info("hanging until stopped");
      while (!ctx.StopRequested()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      return Status::Cancelled("stopped while hanging");
    }
    if (const std::string& flag = p.String("hang_while"); !flag.empty() && std::ifstream(flag)) {
      ctx.Info("hanging while " + flag + " exists");
      while (std::ifstream(flag)) {
        if (ctx.StopRequested()) return Status::Cancelled("stopped while hanging");
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    const int64_t epochs = p.Int("epochs");
    for (int64_t e = 1; e <= epochs; ++e) {
      ctx.LogMetric("curve", e, value + 10.0 / static_cast<double>(e));
      if (ctx.StopRequested()) return Status::Cancelled("stopped at epoch " + std::to_string(e));
    }
    ctx.LogMetric("value", 0, value);
    return Status::Ok();
  }
};

}  // namespace

SLUICE_PLUGIN(ObjectiveStage)
