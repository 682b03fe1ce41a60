// `sluice` as a user drives it: run, the history queries, plugin listings, exit codes.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "process.hpp"
#include "temp_dir.hpp"

namespace sluice::testing {
namespace {

using nlohmann::json;

const std::string kPlugins = std::string(SLUICE_TEST_PLUGIN_DIR) + "/good";

class CliTest : public ::testing::Test {
 protected:
  ProcessResult Sluice(std::vector<std::string> args) {
    args.insert(args.begin(), SluiceBinary());
    return RunProcess(
        args,
        ProcessOptions{dir_.path().string(), {{"SLUICE_PLUGIN_PATH", kPlugins}, {"SLUICE_STORE", dir_ / "store"}}, {}});
  }
  json SluiceJson(std::vector<std::string> args) {
    args.push_back("--json");
    ProcessResult r = Sluice(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out);
  }

  TempDir dir_;
};

constexpr const char* kEcho = R"([pipeline]
name = "echoes"
seed = 3

[stages.first]
plugin = "test-echo"
count = 5
scale = 0.5
artifact = true
label = "hello"

[stages.second]
plugin = "test-echo"
inputs = { in = "first" }
)";

TEST_F(CliTest, RecordsEveryResolvedParameterMetricStageArtifactAndEnvironment) {
  dir_.Write("echo.toml", kEcho);
  json run = SluiceJson({"run", "echo.toml"});
  EXPECT_EQ(run["status"], "succeeded");
  EXPECT_EQ(run["metrics"]["second.depth"], 1.0);
  const std::string id = run["id"];
  ASSERT_EQ(id.size(), 16u);

  json show = SluiceJson({"runs", "show", id.substr(0, 6)});
  EXPECT_EQ(show["id"], id);
  EXPECT_EQ(show["pipeline"], "echoes");
  EXPECT_EQ(show["status"], "succeeded");
  EXPECT_TRUE(show["ended_at"].is_string());
  // Defaults included, keyed stage.param.
  EXPECT_EQ(show["params"]["first.count"], 5);
  EXPECT_EQ(show["params"]["second.count"], 3);
  EXPECT_EQ(show["params"]["second.mode"], "fast");
  EXPECT_EQ(show["params"]["second.sizes"], json::array({1, 2}));
  EXPECT_TRUE(show["params"]["second.note"].is_null());
  EXPECT_EQ(show["params"]["pipeline.seed"], 3);
  EXPECT_TRUE(show["params"]["first.seed"].is_number_integer());
  EXPECT_EQ(show["metrics"]["first.value"], 2.0);  // latest point: step 4, 4 * 0.5
  ASSERT_EQ(show["stages"].size(), 2u);
  EXPECT_EQ(show["stages"][0]["name"], "first");
  EXPECT_EQ(show["stages"][0]["plugin"], "test-echo");
  EXPECT_EQ(show["stages"][0]["plugin_version"], "1.2.3");
  EXPECT_EQ(show["stages"][0]["status"], "succeeded");
  EXPECT_EQ(show["stages"][0]["cached"], false);
  EXPECT_TRUE(show["stages"][0]["seconds"].is_number());
  ASSERT_EQ(show["artifacts"].size(), 1u);
  EXPECT_EQ(show["artifacts"][0]["stage"], "first");
  EXPECT_EQ(show["artifacts"][0]["name"], "note");
  EXPECT_EQ(ReadFile(show["artifacts"][0]["path"]), "hello\n");
  EXPECT_EQ(show["artifacts"][0]["sha256"].get<std::string>().size(), 64u);
  for (const char* key : {"sluice", "compiler", "libtorch", "host", "toolchain", "os"}) {
    EXPECT_TRUE(show["environment"].contains(key)) << key;
  }

  json series = SluiceJson({"runs", "metrics", id, "first.value"});
  EXPECT_EQ(series, json::parse(R"([{"step":0,"value":0.0},{"step":1,"value":0.5},{"step":2,"value":1.0},
                                    {"step":3,"value":1.5},{"step":4,"value":2.0}])"));
}

TEST_F(CliTest, ListsFiltersAndComparesRuns) {
  dir_.Write("echo.toml", kEcho);
  const std::string a = SluiceJson({"run", "echo.toml"})["id"];
  const std::string b = SluiceJson({"run", "echo.toml", "--set", "first.scale=2", "--set", "pipeline.seed=4"})["id"];
  dir_.Write("fail.toml", "[stages.x]\nplugin = \"test-echo\"\nbehavior = \"fail\"\n");
  EXPECT_EQ(Sluice({"run", "fail.toml"}).exit_code, 1);

  json all = SluiceJson({"runs", "list"});
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0]["pipeline"], "fail");  // newest first
  json echoes = SluiceJson({"runs", "list", "--pipeline", "echoes"});
  ASSERT_EQ(echoes.size(), 2u);
  json failed = SluiceJson({"runs", "list", "--status", "failed"});
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0]["error"], "stage 'x': echo was told to fail");
  EXPECT_EQ(SluiceJson({"runs", "list", "--limit", "1"}).size(), 1u);

  json cmp = SluiceJson({"runs", "compare", a, b});
  EXPECT_EQ(cmp["params"]["first.scale"], json::array({0.5, 2.0}));
  EXPECT_EQ(cmp["metrics"]["first.value"], json::array({2.0, 8.0}));
  const auto differing = cmp["differing_params"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(differing.begin(), differing.end(), "first.scale"), differing.end());
  EXPECT_NE(std::find(differing.begin(), differing.end(), "pipeline.seed"), differing.end());
  EXPECT_EQ(std::find(differing.begin(), differing.end(), "first.count"), differing.end());

  ProcessResult table = Sluice({"runs", "list"});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_EQ(table.out.substr(0, 2), "ID");
  ProcessResult csv = Sluice({"runs", "list", "--csv", "--metric", "first.value"});
  EXPECT_EQ(csv.out.substr(0, csv.out.find('\n')), "id,pipeline,status,started_at,ended_at,error,first.value");
}

TEST_F(CliTest, ExplainsUnknownRunsAndMissingStores) {
  ProcessResult none = Sluice({"runs", "list"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("no run store at " + dir_ / "store"), std::string::npos) << none.err;
  dir_.Write("echo.toml", kEcho);
  SluiceJson({"run", "echo.toml"});
  ProcessResult missing = Sluice({"runs", "show", "ffffffffffffffff"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no run matches 'ffffffffffffffff'"), std::string::npos) << missing.err;
  ProcessResult metric = Sluice({"runs", "metrics", SluiceJson({"runs", "list"})[0]["id"], "first.nope"});
  EXPECT_EQ(metric.exit_code, 1);
  EXPECT_NE(metric.err.find("has no metric 'first.nope' (it has: first.depth"), std::string::npos) << metric.err;
  ProcessResult usage = Sluice({"runs", "list", "--bogus"});
  EXPECT_EQ(usage.exit_code, 2);
}

TEST_F(CliTest, APluginThatFailsOrThrowsFailsItsStageNotTheHost) {
  struct Case {
    const char* behavior;
    const char* error;
  } cases[] = {
      {"fail", "stage 'x': echo was told to fail"},
      {"throw", "stage 'x': echo was told to throw"},
      {"throw-nonstd", "stage 'x': the plugin threw an exception that is not a std::exception"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.behavior);
    dir_.Write("p.toml", std::string("[stages.x]\nplugin = \"test-echo\"\nbehavior = \"") + c.behavior +
                             "\"\n[stages.y]\nplugin = \"test-echo\"\ninputs = { in = \"x\" }\n");
    ProcessResult r = Sluice({"run", "p.toml", "--json"});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    json out = json::parse(r.out);
    EXPECT_EQ(out["status"], "failed");
    EXPECT_EQ(out["error"], c.error);
    json show = SluiceJson({"runs", "show", out["id"]});
    EXPECT_EQ(show["stages"][0]["status"], "failed");
    EXPECT_EQ(show["stages"][1]["status"], "skipped");
  }
}

TEST_F(CliTest, ARunWhoseProcessDiedIsMarkedCrashedOnNextOpen) {
  dir_.Write("crash.toml", "[stages.x]\nplugin = \"test-echo\"\nbehavior = \"crash\"\n");
  ProcessResult r = Sluice({"run", "crash.toml"});
  EXPECT_EQ(r.exit_code, 128 + SIGABRT);
  json runs = SluiceJson({"runs", "list"});
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "crashed");
  EXPECT_NE(runs[0]["error"].get<std::string>().find("ended without recording a result"), std::string::npos);
  EXPECT_EQ(SluiceJson({"runs", "show", runs[0]["id"]})["stages"][0]["status"], "crashed");
}

TEST_F(CliTest, PluginsAreDescribedWithoutRunningThem) {
  json list = SluiceJson({"plugins", "list"});
  std::vector<std::string> names;
  for (const auto& p : list) names.push_back(p["name"]);
  for (const char* builtin : {"classification-metrics", "idx-images", "mlp", "trainer", "test-echo"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), builtin), names.end()) << builtin;
  }
  json trainer = SluiceJson({"plugins", "show", "trainer"});
  EXPECT_EQ(trainer["kind"], "train");
  EXPECT_EQ(trainer["inputs"][0]["type"], "dataset");
  EXPECT_EQ(trainer["outputs"][0]["type"], "trained-model");
  bool saw_lr = false;
  for (const auto& p : trainer["params"]) {
    if (p["name"] != "lr") continue;
    saw_lr = true;
    EXPECT_EQ(p["type"], "float");
    EXPECT_EQ(p["default"], 0.001);
    EXPECT_EQ(p["constraint"], "(0, 10]");
    EXPECT_FALSE(p["doc"].get<std::string>().empty());
  }
  EXPECT_TRUE(saw_lr);
  ProcessResult typo = Sluice({"plugins", "show", "trainr"});
  EXPECT_EQ(typo.exit_code, 1);
  EXPECT_EQ(typo.err, "sluice plugins: error: unknown plugin 'trainr'; did you mean 'trainer'?\n");
  ProcessResult human = Sluice({"plugins", "show", "mlp"});
  EXPECT_NE(human.out.find("hidden         int[]     [256]"), std::string::npos) << human.out;
}

TEST_F(CliTest, TheHostItselfDoesNotLinkLibTorch) {
  // What keeps validate, plugins and runs fast: LibTorch arrives only with the plugins.
  ProcessResult ldd = RunProcess({"/usr/bin/ldd", SluiceBinary()});
  ASSERT_EQ(ldd.exit_code, 0) << ldd.err;
  EXPECT_EQ(ldd.out.find("libtorch"), std::string::npos) << ldd.out;
  EXPECT_EQ(ldd.out.find("libc10"), std::string::npos) << ldd.out;
}

TEST(ShippedPipelinesTest, EveryPipelineInTheRepositoryIsValid) {
  const std::filesystem::path folder = std::filesystem::path(SLUICE_TEST_SOURCE_DIR) / ".." / "pipelines";
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (entry.path().extension() != ".toml") continue;
    ProcessResult r = RunProcess({SluiceBinary(), "validate", entry.path().string()},
                                 ProcessOptions{"", {}, {"SLUICE_PLUGIN_PATH", "SLUICE_STORE"}});
    EXPECT_EQ(r.exit_code, 0) << entry.path() << "\n" << r.err;
    ++checked;
  }
  EXPECT_GE(checked, 6);
}

}  // namespace
}  // namespace sluice::testing
