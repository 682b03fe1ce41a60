// Stores on a PostgreSQL server, as users drive them: runs and queries through the CLI,
// sweeps whose workers share one study (eight at once: every grid point once), a killed
// worker's trial lost and its grid point run again, data-parallel ranks recording one run.
// Each test gets a database of its own on the server CTest starts (tools/pg-test-server).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "data_files.hpp"
#include "database.hpp"
#include "engine_store.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

namespace sluice::testing {
namespace {

using nlohmann::json;

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class PostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_unique<EngineStore>("postgresql");
    store_->Close();  // the CLI opens it
  }
  ProcessOptions Options() const {
    return ProcessOptions{dir_.path().string(),
                          {{"SLUICE_STORE", store_->location()},
                           {"SLUICE_ARTIFACT_ROOT", dir_ / "shared"},
                           {"SLUICE_PLUGIN_PATH", std::string(SLUICE_TEST_PLUGIN_DIR) + "/objective"}},
                          {}};
  }
  ProcessResult Sluice(std::vector<std::string> args) const {
    args.insert(args.begin(), SluiceBinary());
    return RunProcess(args, Options());
  }
  json Json(std::vector<std::string> args) const {
    args.push_back("--json");
    const ProcessResult r = Sluice(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.empty() ? json() : json::parse(r.out);
  }
  std::unique_ptr<Child> Start(std::vector<std::string> args) const {
    args.insert(args.begin(), SluiceBinary());
    return std::make_unique<Child>(args, Options());
  }
  // A sweep over test-objective's grid: `xs` x the n values 1..`ns`.
  void WriteGrid(const std::string& name, int xs, int ns, const std::string& stage_extra) {
    std::string x = "[", n = "[";
    for (int i = 0; i < xs; ++i) x += (i ? ", " : "") + std::to_string(i) + ".0";
    for (int i = 1; i <= ns; ++i) n += (i > 1 ? ", " : "") + std::to_string(i);
    dir_.Write(name, "[pipeline]\nname = \"grid\"\nseed = 3\n\n[stages.f]\nplugin = \"test-objective\"\n" +
                         stage_extra +
                         "\n[sweep]\nmetric = \"f.value\"\ndirection = \"minimize\"\nsampler = \"grid\"\n" +
                         "\n[sweep.space]\n\"f.x\" = { choice = " + x + "] }\n\"f.n\" = { choice = " + n + "] }\n");
  }
  // Each grid point's trials by state, from `studies show --json`.
  std::map<std::string, std::multiset<std::string>> PointsByState(const json& study) {
    std::map<std::string, std::multiset<std::string>> out;
    for (const json& t : study["trials"]) out[t["state"]].insert(t["params"].dump());
    return out;
  }

  TempDir dir_;
  std::unique_ptr<EngineStore> store_;
};

TEST_F(PostgresTest, RunsAreRecordedQueriedAndCheckedThroughTheCli) {
  dir_.Write("credit.toml",
             "[pipeline]\nname = \"credit\"\nseed = 3\n\n[stages.data]\nplugin = \"arff\"\nfile = \"" +
                 WekaExample("credit-g.arff") +
                 "\"\ntarget = \"class\"\n\n[stages.model]\nplugin = \"mlp\"\nhidden = [16]\n\n"
                 "[stages.train]\nplugin = \"trainer\"\ninputs = { data = \"data\", model = \"model\" }\nepochs = 2\n\n"
                 "[stages.eval]\nplugin = \"classification-metrics\"\ninputs = { data = \"data\", model = \"train\" }\n"
                 "\n[stages.bundle]\nplugin = \"bundle\"\ninputs = { model = \"train\" }\nname = \"credit\"\n");
  const json a = Json({"run", "credit.toml", "--set", "train.lr=0.001"});
  // A password in the store's URL (the test server trusts any) is not recorded with the
  // run's command line.
  std::string with_password = store_->location();
  with_password.insert(with_password.find('@'), ":hunter2");
  const json b = Json({"run", "credit.toml", "--set", "train.lr=0.01", "--store", with_password});
  ASSERT_EQ(a["status"], "succeeded") << a.dump();
  ASSERT_EQ(b["status"], "succeeded") << b.dump();
  const json listed = Json({"runs", "list", "--where", "params.train.lr > 0.005", "--order-by", "params.train.lr"});
  ASSERT_EQ(listed.size(), 1u) << listed.dump();
  EXPECT_EQ(listed[0]["id"], b["id"]);
  const ProcessResult shown_b = Sluice({"runs", "show", b["id"]});
  EXPECT_FALSE(Contains(shown_b.out, "hunter2")) << shown_b.out;
  EXPECT_TRUE(Contains(shown_b.out, "--store postgresql://sluice:***@127.0.0.1")) << shown_b.out;
  const json shown = Json({"runs", "show", a["id"]});
  EXPECT_EQ(shown["params"]["train.lr"], 0.001);
  const json loss = Json({"runs", "metrics", a["id"], "train.loss"});
  ASSERT_GE(loss.size(), 2u);
  EXPECT_EQ(loss.back()["value"], shown["metrics"]["train.loss"]) << "the series ends at the latest value";
  // Artifacts and bundles live under the artifact root, recorded relative to it.
  for (const json& artifact : shown["artifacts"]) {
    EXPECT_EQ(artifact["path"].get<std::string>().rfind(dir_ / "shared", 0), 0u) << artifact.dump();
  }
  EXPECT_EQ(Json({"models", "list"}).size(), 2u);
  const json check = Json({"store", "check"});
  EXPECT_EQ(check["problems"].size(), 0u) << check.dump();
  EXPECT_EQ(check["runs"], 2);
  // Nothing was written beside the pipeline: no SQLite store appeared.
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / ".sluice"));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "shared" / "runs.db"));
}

TEST_F(PostgresTest, EightWorkersOnOneStudyRunEveryGridPointOnce) {
  // 40 points; every trial waits on the flag file until all eight workers (a coordinator
  // with --jobs 4, and a second process that joins the study with --jobs 4, as another
  // host would) hold one, so they all claim concurrently.
  WriteGrid("grid.toml", 8, 5, "hang_while = \"" + (dir_ / "flag") + "\"\n");
  dir_.Write("flag", "");
  auto first = Start({"sweep", "grid.toml", "--jobs", "4", "--verbose", "--json"});
  int hanging = 0;
  ASSERT_TRUE(first->WaitForLine([&](const std::string& l) { return Contains(l, "hanging while") && ++hanging == 4; }));
  const json studies = Json({"studies", "list"});
  ASSERT_EQ(studies.size(), 1u);
  const std::string study = studies[0]["study"];
  auto second = Start({"sweep", "--join", study, "--jobs", "4", "--verbose", "--json"});
  hanging = 0;
  ASSERT_TRUE(
      second->WaitForLine([&](const std::string& l) { return Contains(l, "hanging while") && ++hanging == 4; }));
  std::filesystem::remove(dir_ / "flag");
  const ProcessResult a = first->Wait(), b = second->Wait();
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_FALSE(Contains(a.err + b.err, "locked")) << a.err << b.err;

  const json shown = Json({"studies", "show", study});
  EXPECT_EQ(shown["status"], "finished");
  const auto points = PointsByState(shown);
  ASSERT_EQ(points.size(), 1u) << shown["trials"].dump();
  const std::multiset<std::string>& complete = points.at("complete");
  EXPECT_EQ(complete.size(), 40u);
  EXPECT_EQ(std::set<std::string>(complete.begin(), complete.end()).size(), 40u) << "a grid point ran twice";
  std::set<std::string> workers;
  for (const json& t : shown["trials"]) workers.insert(t["worker"]);
  EXPECT_EQ(workers.size(), 8u) << "trials ran in " << workers.size() << " processes";
}

TEST_F(PostgresTest, AKilledWorkersTrialIsLostAndItsGridPointRunAgain) {
  // The first trial to start removes the flag and hangs; its worker is killed.
  WriteGrid("grid.toml", 3, 2, "hang_once = \"" + (dir_ / "flag") + "\"\n");
  dir_.Write("flag", "");
  auto victim = Start({"sweep", "grid.toml", "--verbose"});
  ASSERT_TRUE(victim->WaitForLine([](const std::string& l) { return Contains(l, "hanging until stopped"); }));
  const std::string study = Json({"studies", "list"})[0]["study"];
  victim->Signal(SIGKILL);
  victim->Wait();

  // Another worker finds the dead one's run, marks it crashed and its trial lost, and
  // the study's six points all complete.
  const json joined = Json({"sweep", "--join", study});
  EXPECT_EQ(joined["status"], "finished") << joined.dump();
  const json shown = Json({"studies", "show", study});
  const auto points = PointsByState(shown);
  ASSERT_EQ(points.at("lost").size(), 1u) << shown["trials"].dump();
  ASSERT_EQ(points.at("complete").size(), 6u) << shown["trials"].dump();
  EXPECT_EQ(points.at("complete").count(*points.at("lost").begin()), 1u) << "the lost point ran again";
  const json crashed = Json({"runs", "list", "--status", "crashed"});
  ASSERT_EQ(crashed.size(), 1u);
  EXPECT_TRUE(Contains(crashed[0]["error"], "ended without recording a result")) << crashed[0].dump();
}

// While a run executes on a server, its process records that it is alive every
// SLUICE_HEARTBEAT_SECONDS (what other hosts go by to find a dead one): one thread beats
// for the runs of a sweep, one after the other.
TEST_F(PostgresTest, EachRunningTrialsHeartbeatAdvances) {
  // Two grid points, each hanging while its own file exists.
  const std::string a = dir_ / "a", b = dir_ / "b";
  dir_.Write("beat.toml",
             "[pipeline]\nname = \"beat\"\nseed = 3\n\n[stages.f]\nplugin = \"test-objective\"\n\n[sweep]\n"
             "metric = \"f.value\"\ndirection = \"minimize\"\nsampler = \"grid\"\n\n[sweep.space]\n"
             "\"f.hang_while\" = { choice = [\"" +
                 a + "\", \"" + b + "\"] }\n");
  dir_.Write("a", "");
  dir_.Write("b", "");
  ProcessOptions options = Options();
  options.env["SLUICE_HEARTBEAT_SECONDS"] = "0.05";
  Child sweep({SluiceBinary(), "sweep", "beat.toml", "--verbose"}, options);
  store::Database db(store_->location(), store::Database::Mode::kReadOnly);
  // The running run's heartbeat, until it has moved `beats` times (or 60 s passed).
  const auto beats_seen = [&](int beats) {
    std::optional<double> last;
    int moved = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (moved < beats && std::chrono::steady_clock::now() < deadline) {
      store::Statement q = db.Prepare("SELECT heartbeat_at FROM runs WHERE status = 'running'");
      if (q.Step()) {
        const double at = q.Double(0);
        if (last && at > *last) ++moved;
        last = at;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling the server, not timing
    }
    return moved;
  };
  for (const std::string& flag : std::vector<std::string>{a, b}) {
    ASSERT_TRUE(sweep.WaitForLine([&](const std::string& l) { return Contains(l, "hanging while " + flag); }));
    EXPECT_EQ(beats_seen(2), 2) << "the run hanging on " << flag << " recorded no heartbeats";
    std::filesystem::remove(flag);
  }
  const ProcessResult done = sweep.Wait();
  ASSERT_EQ(done.exit_code, 0) << done.err;
}

TEST_F(PostgresTest, WarmStartsAndResumeWorkAsOnSqlite) {
  const std::string tpe =
      "[pipeline]\nname = \"quad\"\nseed = 3\n\n[stages.f]\nplugin = \"test-objective\"\n%s\n[sweep]\n"
      "metric = \"f.value\"\ndirection = \"minimize\"\nsampler = \"tpe\"\ntrials = 4\nseed = 5\n\n"
      "[sweep.space]\n\"f.x\" = { uniform = [-4.0, 4.0] }\n\"f.y\" = { uniform = [-4.0, 4.0] }\n";
  auto write = [&](const std::string& name, const std::string& extra) {
    std::string text = tpe;
    text.replace(text.find("%s"), 2, extra);
    dir_.Write(name, text);
  };
  write("tpe.toml", "");
  const json first = Json({"sweep", "tpe.toml"});
  ASSERT_EQ(first["complete"], 4) << first.dump();
  // The second study starts from the first one's four runs (their parameters read back
  // through PostgreSQL's JSON aggregate).
  const ProcessResult second = Sluice({"sweep", "tpe.toml", "--json"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_TRUE(Contains(second.err, "warm start from 4 past runs")) << second.err;
  EXPECT_EQ(Json({"studies", "show", json::parse(second.out)["study"]})["warm_start_runs"].size(), 4u);

  // Ctrl-C on a trial that hangs; --resume runs it again and finishes the study.
  write("hang.toml", "hang_once = \"" + (dir_ / "flag") + "\"\n");
  dir_.Write("flag", "");
  auto stopped = Start({"sweep", "hang.toml", "--verbose", "--json"});
  ASSERT_TRUE(stopped->WaitForLine([](const std::string& l) { return Contains(l, "hanging until stopped"); }));
  stopped->Signal(SIGINT);
  const ProcessResult interrupted = stopped->Wait();
  EXPECT_EQ(interrupted.exit_code, 130) << interrupted.err;
  const std::string study = json::parse(interrupted.out)["study"];
  const json resumed = Json({"sweep", "--resume", study});
  EXPECT_EQ(resumed["status"], "finished") << resumed.dump();
  EXPECT_EQ(resumed["complete"], 4) << resumed.dump();
}

TEST_F(PostgresTest, DataParallelRanksRecordOneRunInTheServersStore) {
  dir_.Write("credit.toml",
             "[pipeline]\nname = \"credit\"\nseed = 3\n\n[stages.data]\nplugin = \"arff\"\nfile = \"" +
                 WekaExample("credit-g.arff") +
                 "\"\ntarget = \"class\"\n\n[stages.model]\nplugin = \"mlp\"\nhidden = [16]\n\n"
                 "[stages.train]\nplugin = \"trainer\"\ninputs = { data = \"data\", model = \"model\" }\nepochs = 2\n"
                 "check_replicas = true\n");
  const json run = Json({"run", "credit.toml", "--nproc", "2"});
  ASSERT_EQ(run["status"], "succeeded") << run.dump();
  const json runs = Json({"runs", "list"});
  ASSERT_EQ(runs.size(), 1u) << runs.dump();
  EXPECT_EQ(Json({"runs", "show", run["id"]})["environment"]["world_size"], "2");
}

}  // namespace
}  // namespace sluice::testing
