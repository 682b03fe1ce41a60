// Ctrl-C during a run: the first stops the stage and records the run as interrupted with
// the metrics logged so far; the second exits at once.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>

#include <nlohmann/json.hpp>

#include "process.hpp"
#include "temp_dir.hpp"

namespace sluice::testing {
namespace {

using nlohmann::json;

ProcessOptions Options(const TempDir& dir) {
  return ProcessOptions{
      dir.path().string(),
      {{"SLUICE_PLUGIN_PATH", std::string(SLUICE_TEST_PLUGIN_DIR) + "/good"}, {"SLUICE_STORE", dir / "store"}},
      {}};
}

json LastRun(const TempDir& dir) {
  ProcessResult list = RunProcess({SluiceBinary(), "runs", "list", "--json"}, Options(dir));
  EXPECT_EQ(list.exit_code, 0) << list.err;
  json runs = json::parse(list.out);
  EXPECT_EQ(runs.size(), 1u);
  ProcessResult show = RunProcess({SluiceBinary(), "runs", "show", runs[0]["id"], "--json"}, Options(dir));
  return json::parse(show.out);
}

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(InterruptTest, FirstCtrlCStopsTheStageAndKeepsItsMetrics) {
  TempDir dir;
  dir.Write("loop.toml",
            "[stages.loop]\nplugin = \"test-echo\"\nbehavior = \"loop\"\n"
            "[stages.after]\nplugin = \"test-echo\"\ninputs = { in = \"loop\" }\n");
  Child child({SluiceBinary(), "run", "loop.toml", "--json"}, Options(dir));
  ASSERT_TRUE(child.WaitForLine([](const std::string& l) { return Contains(l, "loop: looping"); }));
  child.Signal(SIGINT);
  ProcessResult r = child.Wait();
  EXPECT_EQ(r.exit_code, 130) << r.err;
  EXPECT_EQ(json::parse(r.out)["status"], "interrupted");
  EXPECT_TRUE(Contains(r.err, "stopping after the current step")) << r.err;

  json run = LastRun(dir);
  EXPECT_EQ(run["status"], "interrupted");
  EXPECT_TRUE(Contains(run["error"], "stage 'loop': stopped after")) << run["error"];
  EXPECT_EQ(run["stages"][0]["status"], "interrupted");
  EXPECT_EQ(run["stages"][1]["status"], "skipped");
  EXPECT_EQ(run["metrics"]["loop.value"], 2.0);  // logged before the loop
  EXPECT_TRUE(run["metrics"].contains("loop.tick"));
}

TEST(InterruptTest, SecondCtrlCExitsAtOnce) {
  TempDir dir;
  dir.Write("stuck.toml", "[stages.stuck]\nplugin = \"test-echo\"\nbehavior = \"loop-ignoring-stop\"\n");
  Child child({SluiceBinary(), "run", "stuck.toml"}, Options(dir));
  ASSERT_TRUE(child.WaitForLine([](const std::string& l) { return Contains(l, "stuck: looping"); }));
  child.Signal(SIGINT);
  ASSERT_TRUE(child.WaitForLine([](const std::string& l) { return Contains(l, "press Ctrl-C again"); }));
  child.Signal(SIGINT);
  ProcessResult r = child.Wait();
  EXPECT_EQ(r.exit_code, 130) << r.err;
  json run = LastRun(dir);
  EXPECT_EQ(run["status"], "interrupted");
  EXPECT_TRUE(Contains(run["error"], "second Ctrl-C")) << run["error"];
  EXPECT_EQ(run["stages"][0]["status"], "interrupted");
}

TEST(InterruptTest, CtrlCDuringRealTrainingStopsWithinASecondOrTwo) {
  TempDir dir;
  Child child({SluiceBinary(), "run", std::string(SLUICE_TEST_SOURCE_DIR) + "/../pipelines/fashion_mnist_mlp.toml",
               "--set", "train.epochs=50"},
              Options(dir));
  ASSERT_TRUE(child.WaitForLine([](const std::string& l) { return Contains(l, "train epoch 1/50"); }));
  const auto signalled = std::chrono::steady_clock::now();
  child.Signal(SIGINT);
  ProcessResult r = child.Wait();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
  EXPECT_EQ(r.exit_code, 130) << r.err;
  EXPECT_LT(seconds, 2.0);
  json run = LastRun(dir);
  EXPECT_EQ(run["status"], "interrupted");
  EXPECT_TRUE(Contains(run["error"], "stage 'train': stopped in epoch")) << run["error"];
  EXPECT_TRUE(run["metrics"].contains("train.loss"));
  EXPECT_EQ(run["stages"][3]["status"], "skipped");
}

}  // namespace
}  // namespace sluice::testing
