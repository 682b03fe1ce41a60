// sluice sweep as users run it, over test-objective (a known function of its parameters):
// trials are runs, grids are covered once across processes, failures and pruning are
// recorded, Ctrl-C and --resume, warm starts from history, studies and runs queries.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "process.hpp"
#include "temp_dir.hpp"

namespace sluice::testing {
namespace {

using nlohmann::json;

class SweepTest : public ::testing::Test {
 protected:
  ProcessOptions Options() const {
    return ProcessOptions{
        dir_.path().string(),
        {{"SLUICE_PLUGIN_PATH", std::string(SLUICE_TEST_PLUGIN_DIR) + "/objective"}, {"SLUICE_STORE", dir_ / "store"}},
        {}};
  }
  ProcessResult Sluice(std::vector<std::string> args) const {
    args.insert(args.begin(), SluiceBinary());
    return RunProcess(args, Options());
  }
  json Json(std::vector<std::string> args, int expected_exit = 0) const {
    args.push_back("--json");
    ProcessResult r = Sluice(args);
    EXPECT_EQ(r.exit_code, expected_exit) << r.err;
    try {
      return json::parse(r.out);
    } catch (const json::exception&) {
      ADD_FAILURE() << "not JSON: " << r.out << r.err;
      return json();
    }
  }
  void Write(const std::string& name, const std::string& sweep, const std::string& stage_extra = "") {
    dir_.Write(name, "[pipeline]\nname = \"quad\"\nseed = 3\n\n[stages.f]\nplugin = \"test-objective\"\n" +
                         stage_extra + "\n[sweep]\nmetric = \"f.value\"\ndirection = \"minimize\"\nseed = 5\n" + sweep);
  }
  TempDir dir_;
};

const char* kSpace =
    "\n[sweep.space]\n\"f.x\" = { uniform = [-4.0, 4.0] }\n\"f.y\" = { uniform = [-4.0, 4.0] }\n"
    "\"f.n\" = { int = [1, 8] }\n\"f.shape\" = { choice = [\"plain\", \"shifted\"] }\n";

TEST_F(SweepTest, EveryTrialIsARunAndTheBestIsTheBestOfThem) {
  Write("q.toml", "sampler = \"tpe\"\ntrials = 30\n" + std::string(kSpace));
  json out = Json({"sweep", "q.toml"});
  EXPECT_EQ(out["trials"], 30);
  const std::string study = out["study"];
  json runs = Json({"runs", "list", "--study", study, "--limit", "0"});
  ASSERT_EQ(runs.size(), 30u);
  double best = INFINITY;
  std::string best_run;
  for (const json& r : runs) {
    ASSERT_EQ(r["status"], "succeeded");
    const double v = r["metrics"]["f.value"];
    if (v < best) {
      best = v;
      best_run = r["id"];
    }
  }
  EXPECT_EQ(out["best"]["run"], best_run);
  EXPECT_DOUBLE_EQ(out["best"]["value"].get<double>(), best);
  // The best run holds the parameters the study reports, and the objective follows them.
  json run = Json({"runs", "show", best_run});
  for (const auto& [key, value] : out["best"]["params"].items()) EXPECT_EQ(run["params"][key], value) << key;
  const double x = run["params"]["f.x"], y = run["params"]["f.y"];
  const double n = run["params"]["f.n"];
  EXPECT_NEAR(
      best,
      (x - 2) * (x - 2) + (y + 1) * (y + 1) + (n - 4) * (n - 4) / 10 + (run["params"]["f.shape"] == "shifted" ? 1 : 0),
      1e-9);
  EXPECT_LT(best, 2.0);  // the minimum is 0 at x=2, y=-1, n=4, plain; values reach 60

  json best_run_query = Json({"runs", "best", "--pipeline", "quad", "--metric", "f.value", "--min"});
  EXPECT_EQ(best_run_query["run"], best_run);
  // Without --min: test-objective declares its value better when lower.
  json declared = Json({"runs", "best", "--pipeline", "quad", "--metric", "f.value"});
  EXPECT_EQ(declared["run"], best_run);
  EXPECT_EQ(declared["direction"], "minimize");

  json shown = Json({"studies", "show", study.substr(0, 6)});
  EXPECT_EQ(shown["trials"].size(), 30u);
  EXPECT_EQ(shown["best"]["run"], best_run);
  EXPECT_EQ(shown["importance"].size(), 4u);
  ProcessResult table = Sluice({"studies", "show", study});
  EXPECT_NE(table.out.find("parameter importance"), std::string::npos) << table.out;
  json listed = Json({"studies", "list"});
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["study"], study);
}

TEST_F(SweepTest, AGridIsCoveredExactlyOnceByParallelWorkers) {
  Write("g.toml",
        "sampler = \"grid\"\n\n[sweep.space]\n\"f.x\" = { uniform = [0.0, 2.0], step = 0.5 }\n"
        "\"f.n\" = { int = [1, 4] }\n\"f.shape\" = { choice = [\"plain\", \"shifted\"] }\n");
  json out = Json({"sweep", "g.toml", "--jobs", "3"});
  EXPECT_EQ(out["trials"], 5 * 4 * 2);
  json shown = Json({"studies", "show", out["study"]});
  std::set<std::string> points;
  std::set<std::string> workers;
  for (const json& t : shown["trials"]) {
    EXPECT_EQ(t["state"], "complete");
    EXPECT_TRUE(points.insert(t["params"].dump()).second) << "twice: " << t["params"].dump();
  }
  EXPECT_EQ(points.size(), 40u);
  EXPECT_EQ(out["best"]["params"], (json{{"f.n", 4}, {"f.shape", "plain"}, {"f.x", 2.0}}));
}

TEST_F(SweepTest, AFailingTrialIsRecordedAndTheSweepGoesOn) {
  Write("f.toml", "sampler = \"random\"\ntrials = 12\n" + std::string(kSpace), "fail_above = 1.0\n");
  json out = Json({"sweep", "f.toml"});
  EXPECT_EQ(out["trials"], 12);
  EXPECT_GT(out["failed"].get<int>(), 0);
  EXPECT_GT(out["complete"].get<int>(), 0);
  EXPECT_EQ(out["failed"].get<int>() + out["complete"].get<int>(), 12);
  EXPECT_LE(out["best"]["params"]["f.x"].get<double>(), 1.0);
  json failed = Json({"runs", "list", "--status", "failed"});
  ASSERT_EQ(failed.size(), out["failed"].get<size_t>());
  EXPECT_NE(failed[0]["error"].get<std::string>().find("out of bounds"), std::string::npos) << failed[0];
}

TEST_F(SweepTest, AshaPrunesTrialsThatFallBehindAtARung) {
  Write("a.toml",
        "sampler = \"random\"\ntrials = 27\npruner = \"asha\"\nprune_metric = \"f.curve\"\n" + std::string(kSpace),
        "epochs = 9\n");
  json out = Json({"sweep", "a.toml"});
  EXPECT_GT(out["pruned"].get<int>(), 9);
  EXPECT_GT(out["complete"].get<int>(), 0);
  json pruned = Json({"runs", "list", "--where", "status = \"pruned\"", "--limit", "0"});
  EXPECT_EQ(pruned.size(), out["pruned"].get<size_t>());
  for (const json& r : pruned) {
    EXPECT_FALSE(r["metrics"].contains("f.value")) << r;  // stopped before the end
    const int step = Json({"runs", "metrics", r["id"], "f.curve"}).back()["step"];
    EXPECT_TRUE(step == 1 || step == 3 || step == 9) << step;  // the rungs: 1, 3, 9
  }
  json shown = Json({"studies", "show", out["study"]});
  for (const json& t : shown["trials"]) {
    if (t["state"] == "pruned") {
      EXPECT_TRUE(t["step"] == 1 || t["step"] == 3 || t["step"] == 9) << t;
    }
  }
}

TEST_F(SweepTest, ANewSweepStartsFromMatchingPastRuns) {
  Write("q.toml", "sampler = \"tpe\"\ntrials = 15\n" + std::string(kSpace));
  json first = Json({"sweep", "q.toml"});
  // One more run of the pipeline outside any sweep, inside the space: history too.
  const ProcessResult past = Sluice({"run", "q.toml", "--set", "f.x=2.0", "--set", "f.y=-1.0", "--set", "f.n=4"});
  ASSERT_EQ(past.exit_code, 0) << past.err;
  json second = Json({"sweep", "q.toml", "--set", "pipeline.seed=4"});
  EXPECT_EQ(second["warm_start_runs"], 16);
  EXPECT_EQ(second["best"]["value"], 0.0);  // the single run above, the true minimum
  EXPECT_EQ(second["best"]["warm_start"], true);
  json shown = Json({"studies", "show", second["study"]});
  EXPECT_EQ(shown["warm_start_runs"].size(), 16u);
  // A different pipeline outside the space (another function) shares no history.
  json other = Json({"sweep", "q.toml", "--set", "f.function=\"branin\""});
  EXPECT_EQ(other["warm_start_runs"], 0);
}

TEST_F(SweepTest, CtrlCStopsTheSweepAndResumeFinishesIt) {
  dir_.Write("hang", "");
  Write("r.toml", "sampler = \"random\"\ntrials = 8\n" + std::string(kSpace),
        "hang_once = \"" + (dir_ / "hang") + "\"\n");
  Child child({SluiceBinary(), "sweep", "r.toml", "--verbose", "--json"}, Options());
  ASSERT_TRUE(
      child.WaitForLine([](const std::string& l) { return l.find("hanging until stopped") != std::string::npos; }));
  child.Signal(SIGINT);
  ProcessResult r = child.Wait();
  EXPECT_EQ(r.exit_code, 130) << r.err;
  json out = json::parse(r.out);
  EXPECT_EQ(out["status"], "interrupted");
  EXPECT_NE(r.err.find("sluice sweep --resume " + out["study"].get<std::string>()), std::string::npos) << r.err;
  json interrupted = Json({"runs", "list", "--status", "interrupted"});
  ASSERT_EQ(interrupted.size(), 1u);

  json resumed = Json({"sweep", "--resume", out["study"].get<std::string>().substr(0, 8)});
  EXPECT_EQ(resumed["status"], "finished");
  EXPECT_EQ(resumed["complete"], 8);  // the interrupted trial does not count towards the budget
  json shown = Json({"studies", "show", out["study"]});
  EXPECT_EQ(shown["trials"].size(), 9u);
  EXPECT_EQ(std::count_if(shown["trials"].begin(), shown["trials"].end(),
                          [](const json& t) { return t["state"] == "interrupted"; }),
            1);
}

TEST_F(SweepTest, CtrlCReachesEveryWorkerProcess) {
  dir_.Write("hang", "");
  Write("w.toml", "sampler = \"random\"\ntrials = 6\n" + std::string(kSpace),
        "hang_once = \"" + (dir_ / "hang") + "\"\n");
  Child child({SluiceBinary(), "sweep", "w.toml", "--jobs", "2", "--verbose", "--json"}, Options());
  ASSERT_TRUE(
      child.WaitForLine([](const std::string& l) { return l.find("hanging until stopped") != std::string::npos; }));
  child.Signal(SIGINT);  // the parent only, as a terminal would with workers in their own group
  ProcessResult r = child.Wait();
  EXPECT_EQ(r.exit_code, 130) << r.err;
  EXPECT_EQ(r.err.find("interrupted again"), std::string::npos) << r.err;  // one Ctrl-C, taken once
  // The hanging trial, and the other worker's if one was starting at that moment.
  json runs = Json({"runs", "list", "--status", "interrupted"});
  EXPECT_GE(runs.size(), 1u);
  EXPECT_LE(runs.size(), 2u);
  EXPECT_EQ(Json({"runs", "list", "--status", "running"}).size(), 0u);
  json resumed = Json({"sweep", "--resume", json::parse(r.out)["study"], "--jobs", "2"});
  EXPECT_EQ(resumed["complete"], 6);
}

// After `kill -9` of `sluice sweep --jobs 2`, its workers carried on through the study's
// whole budget with nobody watching. Now each stops its trial (interrupted) when the
// coordinator dies, and the study resumes as after Ctrl-C.
TEST_F(SweepTest, WorkersStopWhenTheirCoordinatorIsKilled) {
  dir_.Write("hang", "");
  Write("k.toml", "sampler = \"random\"\ntrials = 6\n" + std::string(kSpace),
        "hang_while = \"" + (dir_ / "hang") + "\"\n");
  // Orphans are re-parented to this process, so that it can wait for them.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  Child child({SluiceBinary(), "sweep", "k.toml", "--jobs", "2", "--verbose", "--json"}, Options());
  auto hanging = [](const std::string& l) { return l.find("hanging while") != std::string::npos; };
  ASSERT_TRUE(child.WaitForLine(hanging));  // the coordinator's trial and the worker's, in either order
  ASSERT_TRUE(child.WaitForLine(hanging));
  child.Signal(SIGKILL);
  // The worker shares the coordinator's stderr, so the pipe closes once it has exited too;
  // a worker that carried on would hold it open.
  std::optional<ProcessResult> killed = child.WaitAtMost(120);
  if (!killed) {
    KillOwnChildren();
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    FAIL() << "a worker kept running two minutes after its coordinator was killed";
  }
  EXPECT_EQ(killed->exit_code, 128 + SIGKILL);
  int status = 0;
  const pid_t worker = waitpid(-1, &status, 0);
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  ASSERT_GT(worker, 0) << "no orphaned worker to wait for";
  ASSERT_TRUE(WIFEXITED(status)) << "the worker died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 130) << killed->err;
  // The worker's trial ended interrupted; the coordinator's is found crashed.
  EXPECT_EQ(Json({"runs", "list", "--status", "interrupted"}).size(), 1u);
  EXPECT_EQ(Json({"runs", "list", "--status", "crashed"}).size(), 1u);
  EXPECT_EQ(Json({"runs", "list", "--status", "succeeded"}).size(), 0u);
  std::filesystem::remove(dir_ / "hang");
  const std::string study = Json({"studies", "list"})[0]["study"];
  json resumed = Json({"sweep", "--resume", study, "--jobs", "2"});
  EXPECT_EQ(resumed["status"], "finished");
  // The interrupted trial is run again; the crashed one is lost (failed, its worker died)
  // and another trial takes its place in the budget of six.
  EXPECT_EQ(resumed["trials"], 8);  // the interrupted and the lost one among them
  EXPECT_EQ(resumed["complete"], 6);
  EXPECT_EQ(resumed["failed"], 1);
}

// The objective's plugin declares which way is better: the sweep takes it from there.
TEST_F(SweepTest, TheDirectionDefaultsToWhatTheMetricsPluginDeclares) {
  dir_.Write("d.toml",
             "[pipeline]\nname = \"quad\"\n\n[stages.f]\nplugin = \"test-objective\"\n\n[sweep]\n"
             "metric = \"f.value\"\nsampler = \"random\"\ntrials = 3\nseed = 1\n\n[sweep.space]\n"
             "\"f.x\" = { uniform = [-4.0, 4.0] }\n");
  json out = Json({"sweep", "d.toml"});
  EXPECT_EQ(out["complete"], 3);
  EXPECT_EQ(Json({"studies", "show", out["study"]})["sweep"]["direction"], "minimize");
}

TEST_F(SweepTest, BadUsageIsExplained) {
  dir_.Write("plain.toml", "[stages.f]\nplugin = \"test-objective\"\n");
  ProcessResult r = Sluice({"sweep", "plain.toml"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("plain.toml:1:1: error: this pipeline has no [sweep] table"), std::string::npos) << r.err;
  Write("q.toml", "trials = 3\n" + std::string(kSpace));
  r = Sluice({"sweep", "q.toml", "--set", "f.epochs=2", "--set", "f.x=1.0"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--set:2:1: error: 'f.x' is in the search space ([sweep.space]); the sweep sets it for every "
                       "trial, so --set cannot fix it"),
            std::string::npos)
      << r.err;
  r = Sluice({"sweep", "--resume", "abc"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("no study matches 'abc'"), std::string::npos) << r.err;
  r = Sluice({"runs", "list", "--where", "metrics.f.value <"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--where: expected a value"), std::string::npos) << r.err;
  r = Sluice({"runs", "best", "--pipeline", "none", "--metric", "f.value"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
}

}  // namespace
}  // namespace sluice::testing
