// `sluice` as a user drives it: run, the history queries, plugin listings, exit codes.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "process.hpp"
#include "temp_dir.hpp"

namespace sluice::testing {
namespace {

using nlohmann::json;

const std::string kPlugins = std::string(SLUICE_TEST_PLUGIN_DIR) + "/good";

class CliTest : public ::testing::Test {
 protected:
  ProcessResult Sluice(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), SluiceBinary());
    env.emplace("SLUICE_PLUGIN_PATH", kPlugins);
    env.emplace("SLUICE_STORE", dir_ / "store");
    return RunProcess(args, ProcessOptions{dir_.path().string(), env, {"SLUICE_DATA_PATH"}});
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
  // Which build of the plugin ran: its linker build id, as `plugins show` reports it.
  const std::string build = show["stages"][0]["plugin_build"];
  EXPECT_EQ(build.size(), 40u) << build;
  EXPECT_EQ(build, SluiceJson({"plugins", "show", "test-echo"})["build"]);
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
  const ProcessResult failing = Sluice({"run", "fail.toml"});
  EXPECT_EQ(failing.exit_code, 1) << failing.err;

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
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(table.out.substr(0, 2), "ID");
  ProcessResult csv = Sluice({"runs", "list", "--csv", "--metric", "first.value"});
  EXPECT_EQ(csv.out.substr(0, csv.out.find('\n')), "id,pipeline,status,started_at,ended_at,error,first.value");
}

TEST_F(CliTest, ExplainsUnknownRunsAndMissingStores) {
  ProcessResult none = Sluice({"runs", "list"});
  EXPECT_EQ(none.exit_code, 1) << none.err;
  EXPECT_NE(none.err.find("no run store at " + dir_ / "store"), std::string::npos) << none.err;
  dir_.Write("echo.toml", kEcho);
  SluiceJson({"run", "echo.toml"});
  ProcessResult missing = Sluice({"runs", "show", "ffffffffffffffff"});
  EXPECT_EQ(missing.exit_code, 1) << missing.err;
  EXPECT_NE(missing.err.find("no run matches 'ffffffffffffffff'"), std::string::npos) << missing.err;
  ProcessResult metric = Sluice({"runs", "metrics", SluiceJson({"runs", "list"})[0]["id"], "first.nope"});
  EXPECT_EQ(metric.exit_code, 1) << metric.err;
  EXPECT_NE(metric.err.find("has no metric 'first.nope' (it has: first.depth"), std::string::npos) << metric.err;
  ProcessResult usage = Sluice({"runs", "list", "--bogus"});
  EXPECT_EQ(usage.exit_code, 2) << usage.err;
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
    // Without progress, and with stdout taken by a script, the error still reaches the
    // terminal.
    ProcessResult quiet = Sluice({"run", "p.toml", "--quiet"});
    EXPECT_EQ(quiet.exit_code, 1) << quiet.err;
    EXPECT_EQ(quiet.err, std::string("sluice run: error: ") + c.error + "\n");
    EXPECT_EQ(quiet.out.rfind("run ", 0), 0u) << quiet.out;
    EXPECT_NE(quiet.out.find(" failed in "), std::string::npos) << quiet.out;
  }
}

// A plugin's error that quotes a whole input reaches neither the terminal nor the store
// whole.
TEST_F(CliTest, AHugeErrorMessageIsCutForTheTerminalAndTheStore) {
  dir_.Write("p.toml", "[stages.x]\nplugin = \"test-echo\"\nbehavior = \"fail-verbosely\"\n");
  ProcessResult r = Sluice({"run", "p.toml", "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.err.substr(0, 1000);
  EXPECT_LT(r.err.size() + r.out.size(), 20000u);
  const std::string error = json::parse(r.out)["error"];
  EXPECT_EQ(error.substr(0, 25), "stage 'x': echo says: xxx");
  EXPECT_NE(error.find("... (message cut: 52428811 bytes)"), std::string::npos) << error.substr(3900);
  ProcessResult shown = Sluice({"runs", "show", json::parse(r.out)["id"]});
  EXPECT_LT(shown.out.size(), 20000u);
  EXPECT_EQ(SluiceJson({"runs", "list"})[0]["error"], error);  // kept as shown, not cut again
  EXPECT_LT(std::filesystem::file_size(dir_ / "store/runs.db"), 1u << 20);
}

TEST_F(CliTest, ARunWhoseProcessDiedIsMarkedCrashedOnNextOpen) {
  dir_.Write("crash.toml", "[stages.x]\nplugin = \"test-echo\"\nbehavior = \"crash\"\n");
  ProcessResult r = Sluice({"run", "crash.toml"});
  EXPECT_EQ(r.exit_code, 128 + SIGABRT) << r.err;
  json runs = SluiceJson({"runs", "list"});
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "crashed");
  EXPECT_NE(runs[0]["error"].get<std::string>().find("ended without recording a result"), std::string::npos);
  EXPECT_EQ(SluiceJson({"runs", "show", runs[0]["id"]})["stages"][0]["status"], "crashed");
}

// Reading needs no write: on a store that cannot be written (a full disk; here writes
// past 40 KB fail, as prlimit's file-size limit makes them), a run whose process died is
// shown as running, with a note, where `runs list` used to fail for want of marking it
// crashed.
TEST_F(CliTest, AStoreThatCannotBeWrittenIsStillReadWithItsDeadRunsNotMarked) {
  dir_.Write("crash.toml", "[stages.x]\nplugin = \"test-echo\"\nbehavior = \"crash\"\n");
  ASSERT_EQ(Sluice({"run", "crash.toml"}).exit_code, 128 + SIGABRT);
  ASSERT_GT(std::filesystem::file_size(dir_ / "store/runs.db-wal"), 40000u) << "writes would not be refused";
  const std::string limited = "trap '' XFSZ; exec prlimit --fsize=40000 " + SluiceBinary() + " runs list --json";
  ProcessResult r = RunProcess({"/bin/sh", "-c", limited},
                               ProcessOptions{dir_.path().string(), {{"SLUICE_STORE", dir_ / "store"}}, {}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)[0]["status"], "running") << r.out;
  EXPECT_NE(r.err.find("sluice: note: 1 run whose process is gone could not be marked crashed"), std::string::npos)
      << r.err;
  EXPECT_EQ(SluiceJson({"runs", "list"})[0]["status"], "crashed");
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
  // The metrics it logs, with which way is better.
  bool saw_val_accuracy = false;
  for (const auto& m : trainer["metrics"]) {
    if (m["name"] != "val_accuracy") continue;
    saw_val_accuracy = true;
    EXPECT_EQ(m["goal"], "maximize");
  }
  EXPECT_TRUE(saw_val_accuracy) << trainer["metrics"].dump();
  ProcessResult typo = Sluice({"plugins", "show", "trainr"});
  EXPECT_EQ(typo.exit_code, 1) << typo.err;
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

// Every file and folder under `root`, with its mode bits.
std::vector<std::string> Listing(const std::filesystem::path& root) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    out.push_back(e.path().string() + " " + std::to_string(static_cast<int>(e.status().permissions())));
  }
  std::sort(out.begin(), out.end());
  return out;
}

void SetWritable(const std::filesystem::path& root, bool writable) {
  using std::filesystem::perms;
  const perms write = perms::owner_write | perms::group_write | perms::others_write;
  const auto option = writable ? std::filesystem::perm_options::add : std::filesystem::perm_options::remove;
  std::filesystem::permissions(root, write, option);
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (!e.is_symlink()) std::filesystem::permissions(e.path(), write, option);
  }
}

// A store whose database file was damaged (a disk error, a bad copy) is refused by every
// command with a message that says so and what to do, and `store check` reports it as its
// finding; nothing writes to the file.
TEST_F(CliTest, ADamagedStoreDatabaseIsReportedWithWhatToDo) {
  dir_.Write("echo.toml", kEcho);
  ASSERT_EQ(SluiceJson({"run", "echo.toml"})["status"], "succeeded");
  const std::filesystem::path db = dir_.path() / "store" / "runs.db";
  {
    std::fstream file(db, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(0);
    file << std::string(100, 'x');  // the header: "file is not a database"
  }
  const std::string damaged = ReadFile(db.string());
  for (const std::vector<std::string>& command :
       std::vector<std::vector<std::string>>{{"runs", "list"}, {"run", "echo.toml"}, {"studies", "list"}}) {
    SCOPED_TRACE(command[0]);
    ProcessResult r = Sluice(command);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("file is not a database"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("(the file is damaged: copy it aside as it is"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("`sqlite3 " + db.string() + " .recover > recovered.sql`"), std::string::npos) << r.err;
  }
  ProcessResult check = Sluice({"store", "check"});
  EXPECT_EQ(check.exit_code, 1) << check.err;
  EXPECT_EQ(check.out.rfind("problem: cannot read store database " + db.string() + ": file is not a database", 0), 0u)
      << check.out;
  ProcessResult as_json = Sluice({"store", "check", "--json"});
  EXPECT_EQ(as_json.exit_code, 1);
  EXPECT_EQ(json::parse(as_json.out)["ok"], false) << as_json.out;
  EXPECT_EQ(ReadFile(db.string()), damaged) << "a command wrote to the damaged file";
}

// "runs list as another user failed with 'attempt to write a readonly database'". A store
// this process may not write (another user's, a read-only mount) is read without writing.
// As root, which permissions do not stop, the commands run without capabilities.
TEST_F(CliTest, AStoreThisProcessCannotWriteCanStillBeRead) {
  dir_.Write("echo.toml", kEcho);
  const std::string id = SluiceJson({"run", "echo.toml"})["id"];
  SetWritable(dir_.path() / "store", false);
  const std::vector<std::string> before = Listing(dir_.path() / "store");
  std::vector<std::string> prefix;
  if (geteuid() == 0) prefix = {"/usr/bin/setpriv", "--bounding-set=-all", "--inh-caps=-all"};
  const std::vector<std::vector<std::string>> reads = {
      {"runs", "list"},
      {"runs", "show", id},
      {"runs", "metrics", id, "first.value"},
      {"runs", "compare", id, id},
      {"runs", "best", "--pipeline", "echoes", "--metric", "first.value"},
      {"studies", "list"},
      {"models", "list"},
      {"store", "check"}};
  for (const auto& command : reads) {
    std::vector<std::string> args = prefix;
    args.push_back(SluiceBinary());
    args.insert(args.end(), command.begin(), command.end());
    SCOPED_TRACE(args[prefix.size() + 1] + " " + args[prefix.size() + 2]);
    ProcessResult r = RunProcess(
        args,
        ProcessOptions{dir_.path().string(), {{"SLUICE_PLUGIN_PATH", kPlugins}, {"SLUICE_STORE", dir_ / "store"}}, {}});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err.find("error"), std::string::npos) << r.err;
  }
  std::vector<std::string> write = prefix;
  write.insert(write.end(), {SluiceBinary(), "run", "echo.toml"});
  ProcessResult refused = RunProcess(
      write,
      ProcessOptions{dir_.path().string(), {{"SLUICE_PLUGIN_PATH", kPlugins}, {"SLUICE_STORE", dir_ / "store"}}, {}});
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_NE(refused.err.find("sluice run: error:"), std::string::npos) << refused.err;
  EXPECT_EQ(Listing(dir_.path() / "store"), before);
  SetWritable(dir_.path() / "store", true);
}

TEST_F(CliTest, WhereExpressionsTooDeepOrTooLongAreRefusedNotACrash) {
  dir_.Write("echo.toml", kEcho);
  SluiceJson({"run", "echo.toml"});
  for (int depth : {100, 50000}) {
    SCOPED_TRACE(depth);
    ProcessResult r = Sluice(
        {"runs", "list", "--where", std::string(depth, '(') + "status = \"succeeded\"" + std::string(depth, ')')});
    EXPECT_EQ(r.exit_code, 2) << r.err.substr(0, 2000);
    EXPECT_NE(r.err.find("nests 'not' and parentheses more than 64 deep"), std::string::npos) << r.err.substr(0, 2000);
    EXPECT_LT(r.err.size(), 1000u);
  }
  ProcessResult unicode = Sluice({"runs", "list", "--where", "status ≠ \"failed\""});
  EXPECT_EQ(unicode.exit_code, 2) << unicode.err;
  EXPECT_EQ(unicode.err,
            "sluice runs list: error: --where: unexpected character '≠'\n"
            "  status ≠ \"failed\"\n"
            "         ^\n");
}

TEST_F(CliTest, PluginsListSaysWhyAFileOnThePathWasNotLoaded) {
  namespace fs = std::filesystem;
  const fs::path odd = dir_.path() / "odd";
  fs::create_directories(odd / "y.so");
  fs::create_symlink("loop.so", odd / "loop.so");
  fs::create_symlink("nowhere/x.so", odd / "dangling.so");
  ProcessResult r =
      Sluice({"plugins", "list"}, {{"SLUICE_PLUGIN_PATH", kPlugins + ":" + odd.string() + ":" + (dir_ / "missing")}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("test-echo"), std::string::npos) << r.out;
  for (const std::string& warning :
       {"warning: " + (odd / "y.so").string() + ": not loaded: a folder, not a library",
        "warning: " + (odd / "loop.so").string() + ": not loaded: a loop of symbolic links",
        "warning: " + (odd / "dangling.so").string() + ": not loaded: a symbolic link to nothing (nowhere/x.so)",
        "warning: " + (dir_ / "missing") + ": is on the plugin path but does not exist (check SLUICE_PLUGIN_PATH)"}) {
    EXPECT_NE(r.err.find(warning), std::string::npos) << warning << "\n" << r.err;
  }
}

// A Describe() that throws used to be reported as "(its Describe() threw?)"; a plugin
// built by hand loaded LibTorch for every listing without a word.
TEST_F(CliTest, PluginsListSaysWhatAPluginsDescribeThrewAndWhatAHandBuiltPluginCosts) {
  const std::string folders =
      std::string(SLUICE_TEST_PLUGIN_DIR) + "/throwing:" + SLUICE_TEST_PLUGIN_DIR + "/nosection";
  ProcessResult r = Sluice({"plugins", "list"}, {{"SLUICE_PLUGIN_PATH", folders}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("throwing-describe.so: its Describe() threw: no GPU here to describe myself with\n"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("foreign_abi_nosection.so: built without sluice_add_plugin(): no contract is embedded in it"),
            std::string::npos)
      << r.err;
  dir_.Write("t.toml", "[stages.x]\nplugin = \"throwing-describe\"\n");
  ProcessResult validate = Sluice({"validate", "t.toml"}, {{"SLUICE_PLUGIN_PATH", folders}});
  EXPECT_EQ(validate.exit_code, 2) << validate.err;
  EXPECT_NE(validate.err.find("unknown plugin 'throwing-describe' in stage 'x' (`sluice plugins list` shows the "
                              "installed plugins, and 4 warnings about files on the plugin path)"),
            std::string::npos)
      << validate.err;
}

// A data plugin that published int32 targets or no class names made the *trainer* fail
// with LibTorch's words. The host checks a value when it is published, naming the culprit.
TEST_F(CliTest, AFlawedDatasetFailsTheStageThatPublishedIt) {
  struct Case {
    const char* flaw;
    const char* message;
  } cases[] = {
      {"int32-targets",
       "published an invalid dataset on output 'data': train split: classification targets are Int; they must be "
       "int64 class indices (torch::kLong)"},
      {"no-class-names",
       "published an invalid dataset on output 'data': a classification dataset needs at least two "
       "class_names, has 0"},
      {"class-out-of-range",
       "published an invalid dataset on output 'data': validation split: class indices run from "
       "0 to 2, but there are 2 class_names"},
      {"wrong-shape",
       "published an invalid dataset on output 'data': test split: features are shaped [16, 5], not "
       "[16, 4] (rows, then sample_shape)"},
      {"no-preprocessing",
       "published an invalid dataset on output 'data': no preprocessing: a model trained on this "
       "data could not be used on new records"},
      {"wrong-type", "published a blob on output 'data', which its contract declares dataset"},
  };
  const std::string plugins = std::string(SLUICE_TEST_PLUGIN_DIR) + "/bad-data";
  for (const Case& c : cases) {
    SCOPED_TRACE(c.flaw);
    dir_.Write("bad.toml", std::string("[stages.data]\nplugin = \"test-bad-data\"\nflaw = \"") + c.flaw +
                               "\"\n[stages.model]\nplugin = \"mlp\"\n[stages.train]\nplugin = \"trainer\"\n"
                               "inputs = { data = \"data\", model = \"model\" }\nepochs = 1\n");
    ProcessResult r = Sluice({"run", "bad.toml", "--json"}, {{"SLUICE_PLUGIN_PATH", plugins}});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    json out = json::parse(r.out);
    const std::string error = out["error"];
    EXPECT_EQ(error.rfind(std::string("stage 'data': plugin test-bad-data 1.0.0 ") + c.message, 0), 0u) << error;
    json stages = SluiceJson({"runs", "show", out["id"]})["stages"];
    EXPECT_EQ(stages[0]["status"], "failed");
    EXPECT_EQ(stages[2]["status"], "skipped");
  }
  dir_.Write("good.toml",
             "[stages.data]\nplugin = \"test-bad-data\"\n[stages.model]\nplugin = \"mlp\"\n"
             "[stages.train]\nplugin = \"trainer\"\ninputs = { data = \"data\", model = \"model\" }\n"
             "epochs = 1\n");
  ProcessResult good = Sluice({"run", "good.toml"}, {{"SLUICE_PLUGIN_PATH", plugins}});
  EXPECT_EQ(good.exit_code, 0) << good.err;
}

// LibTorch's errors end in a C++ backtrace; the run records and shows the message alone.
TEST_F(CliTest, ALibTorchErrorAPluginThrowsIsRecordedWithoutItsBacktrace) {
  dir_.Write("torch.toml", "[stages.data]\nplugin = \"test-bad-data\"\nflaw = \"torch-error\"\n");
  ProcessResult r = Sluice({"run", "torch.toml", "--json"},
                           {{"SLUICE_PLUGIN_PATH", std::string(SLUICE_TEST_PLUGIN_DIR) + "/bad-data"}});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const std::string error = json::parse(r.out)["error"];
  EXPECT_EQ(error.rfind("stage 'data': ", 0), 0u) << error;
  EXPECT_NE(error.find("cannot be multiplied (2x3 and 4x5)"), std::string::npos) << error;
  EXPECT_EQ(error.find("Exception raised from"), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
}

// A pipeline names its data relative to the data path, so one file runs wherever the data
// is installed; ./ and ../ mean the pipeline's folder only.
TEST_F(CliTest, RelativeDataIsFoundInThePipelinesFolderThenAlongTheDataPath) {
  dir_.Write("data/tables/t.csv", "a,b\n1,x\n");
  dir_.Write("p/x.toml", "[stages.d]\nplugin = \"csv\"\nfile = \"tables/t.csv\"\n");
  dir_.Write("p/local.toml", "[stages.d]\nplugin = \"csv\"\nfile = \"./tables/t.csv\"\n");
  ProcessResult nowhere = Sluice({"validate", "p/x.toml"});
  EXPECT_EQ(nowhere.exit_code, 2) << nowhere.err;
  EXPECT_NE(nowhere.err.find("no file 'tables/t.csv' in " + dir_ / "p" + ", "), std::string::npos) << nowhere.err;
  const std::map<std::string, std::string> with_path = {{"SLUICE_DATA_PATH", dir_ / "elsewhere:" + dir_ / "data"}};
  ProcessResult found = Sluice({"validate", "p/x.toml"}, with_path);
  EXPECT_EQ(found.exit_code, 0) << found.err;
  ProcessResult local = Sluice({"validate", "p/local.toml"}, with_path);
  EXPECT_EQ(local.exit_code, 2) << local.err;
  EXPECT_NE(local.err.find("no file './tables/t.csv' in " + dir_ / "p" + " (the pipeline's folder"), std::string::npos)
      << local.err;
  ProcessResult where = Sluice({"data", "find", "tables/t.csv"}, with_path);
  EXPECT_EQ(where.exit_code, 0) << where.err;
  EXPECT_EQ(where.out, dir_ / "data/tables/t.csv" + "\n");
  json path = json::parse(Sluice({"data", "path", "--json"}, with_path).out);
  ASSERT_GE(path.size(), 3u);
  EXPECT_EQ(path[0]["path"], dir_ / "elsewhere");
  EXPECT_EQ(path[0]["exists"], false);
  EXPECT_EQ(path[1]["path"], dir_ / "data");
  EXPECT_EQ(path[1]["origin"], "SLUICE_DATA_PATH");
}

// Bytes from a command line that are not UTF-8 (a Latin-1 file name) once surfaced as
// "[json.exception.type_error.316] invalid UTF-8 byte".
TEST_F(CliTest, ACommandLineThatIsNotUtf8IsAnErrorThatSaysSo) {
  dir_.Write("caf\xE9.csv", "a,b\n1,2\n");
  dir_.Write("p.toml", "[stages.d]\nplugin = \"csv\"\nfile = \"caf\xC3\xA9.csv\"\n");
  ProcessResult set = Sluice({"validate", "p.toml", "--set", "d.file=caf\xE9.csv", "--json"});
  EXPECT_EQ(set.exit_code, 2) << set.err;
  json errors = json::parse(set.out)["errors"];
  ASSERT_GE(errors.size(), 1u) << set.out;
  EXPECT_EQ(errors.back()["message"],
            "--set is not UTF-8 (byte 0xE9); a file name in another encoding needs renaming, or a link with a UTF-8 "
            "name");
  EXPECT_EQ(errors.back()["column"], 11);
  dir_.Write("p\xE9.toml", "[stages.x]\nplugin = \"test-echo\"\n");
  ProcessResult file = Sluice({"run", "p\xE9.toml"});
  EXPECT_EQ(file.exit_code, 2) << file.err;
  EXPECT_EQ(file.err.substr(0, file.err.find('\n')),
            "p\\xe9.toml: error: the pipeline file's name is not UTF-8; rename it (or run it through a link with a "
            "UTF-8 name)");
  ProcessResult predict = Sluice({"predict", "some-model", "--input", "caf\xE9.csv"});
  EXPECT_EQ(predict.exit_code, 2) << predict.err;
  EXPECT_EQ(predict.err,
            "sluice predict: error: --input 'caf\\xe9.csv' is not UTF-8; rename the file (or use a link with a UTF-8 "
            "name) (see `sluice predict --help`)\n");
}

// file = "/dev/zero" passed validation as an existing file, then read forever.
TEST_F(CliTest, AFileParameterMustNameARegularFile) {
  ASSERT_EQ(mkfifo((dir_ / "fifo").c_str(), 0600), 0);
  dir_.Write("fifo.toml", "[stages.d]\nplugin = \"csv\"\nfile = \"fifo\"\n");
  ProcessResult r = Sluice({"run", "fifo.toml"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("'" + dir_ / "fifo" + "' is a FIFO (named pipe), not a regular file"), std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "store")) << "nothing is recorded for an invalid pipeline";
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
