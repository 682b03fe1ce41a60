// test-echo: a torch-free plugin whose behaviour the tests choose through parameters:
// log metrics, write an artifact, fail, throw, loop until stopped, or crash the process.
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "sluice/plugin.hpp"

namespace {

using sluice::Status;

class EchoValue final : public sluice::PortValue {
 public:
  explicit EchoValue(int depth) : depth_(depth) {}
  const char* port_type() const override { return "blob"; }
  int depth() const { return depth_; }

 private:
  int depth_;
};

class Echo final : public sluice::Stage {
 public:
  static sluice::Contract Describe() {
    using sluice::ParamType;
    return sluice::Contract("test-echo", "1.2.3", sluice::Kind::kOther)
        .doc("Test plugin: passes a blob along and does what its parameters say")
        .optional_input("in", "blob", "an upstream blob")
        .output("out", "blob", "a blob one deeper than the input")
        .param(sluice::IntParam("count", 3).range(0, 1e9).doc("metric points to log"))
        .param(sluice::FloatParam("scale", 1.0).doc("value of point i is i * scale"))
        .param(sluice::StringParam("label", "echo").doc("text of the artifact"))
        .param(sluice::BoolParam("flag", false).doc("a boolean"))
        .param(sluice::IntListParam("sizes", {1, 2}).min(0).max_items(4).doc("a list of ints"))
        .param(sluice::StringListParam("tags", {}).choices({"red", "green", "blue"}).doc("a list of colours"))
        .param(sluice::ChoiceParam("mode", "fast", {"fast", "slow"}).doc("a choice"))
        .param(sluice::ChoiceParam(
                   "behavior", "ok",
                   {"ok", "fail", "fail-verbosely", "throw", "throw-nonstd", "loop", "loop-ignoring-stop", "crash"})
                   .doc("what the stage does"))
        .param(sluice::BoolParam("artifact", false).doc("write an artifact named note"))
        .param(sluice::ParamSpec("note", ParamType::kString).optional().doc("an optional string"))
        .param(sluice::SeedParam())
        .metric({"value", sluice::Goal::kMaximize, "point i is i * scale"})
        .metric({"tick", sluice::Goal::kNone, "one per loop turn"})
        .metric({"depth", sluice::Goal::kNone, "the input's depth + 1"});
  }

  Status Run(sluice::StageContext& ctx) override {
    const sluice::Params& p = ctx.params();
    const std::string& behavior = p.String("behavior");
    if (behavior == "fail") return Status::InvalidArgument("echo was told to fail");
    if (behavior == "fail-verbosely") return Status::InvalidArgument("echo says: " + std::string(50 << 20, 'x'));
    if (behavior == "throw") throw std::runtime_error("echo was told to throw");
    if (behavior == "throw-nonstd") throw 42;
    for (int64_t i = 0; i < p.Int("count"); ++i) {
      ctx.LogMetric("value", i, static_cast<double>(i) * p.Float("scale"));
    }
    if (behavior == "loop" || behavior == "loop-ignoring-stop" || behavior == "crash") {
      ctx.Info("looping");
      if (behavior == "crash") std::abort();
      for (int64_t tick = 0;; ++tick) {
        ctx.LogMetric("tick", tick, static_cast<double>(tick));
        if (behavior == "loop" && ctx.StopRequested()) {
          return Status::Cancelled("stopped after " + std::to_string(tick + 1) + " ticks");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    if (p.Bool("artifact")) {
      const std::string path = ctx.ScratchDir() + "/note.txt";
      std::ofstream(path) << p.String("label") << "\n";
      SLUICE_RETURN_IF_ERROR(ctx.AddArtifact("note", path));
    }
    int depth = 0;
    if (auto in = ctx.InputValue("in")) {
      auto echo = std::dynamic_pointer_cast<EchoValue>(in);
      if (!echo) return Status::InvalidArgument("input is not an echo blob");
      depth = echo->depth() + 1;
    }
    ctx.LogMetric("depth", 0, depth);
    ctx.LogMetric("seed", 0, static_cast<double>(ctx.seed()));
    ctx.SetOutput("out", std::make_shared<EchoValue>(depth));
    return Status::Ok();
  }
};

}  // namespace

SLUICE_PLUGIN(Echo)
