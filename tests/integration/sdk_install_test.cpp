// Third-party plugins built exactly as their authors would: install Sluice, build against
// the installed SDK with find_package(SluiceSDK), put the plugin on SLUICE_PLUGIN_PATH,
// and run a pipeline that uses it with the installed sluice.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data_files.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

namespace sluice::testing {
namespace {

using nlohmann::json;

class SdkInstallTest : public ::testing::Test {
 protected:
  // One installation, and one build of sdk/example, in the build tree, shared by the
  // tests (CTest runs each in a process of its own, in parallel: a file lock orders them;
  // a later run rebuilds only what changed).
  static void SetUpTestSuite() {
    std::filesystem::create_directories(Root());
    const int lock = open((Root() + "/lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (lock >= 0) flock(lock, LOCK_EX);
    ProcessResult r = RunProcess({SLUICE_TEST_CMAKE, "--install", SLUICE_TEST_BUILD_DIR, "--prefix", Prefix()});
    install_error_ = r.exit_code == 0 ? "" : r.out + r.err;
    if (install_error_.empty()) {
      example_built_ = Build(ExampleSource(), ExampleBuild());
      example_built_.out += example_built_.err;
    }
    if (lock >= 0) close(lock);  // releases the lock
  }
  void SetUp() override { ASSERT_EQ(install_error_, "") << "cmake --install failed"; }

  static std::string Root() { return std::string(SLUICE_TEST_BUILD_DIR) + "/sdk-install-test"; }
  static std::string Prefix() { return Root() + "/prefix"; }
  static std::string ExampleSource() { return std::string(SLUICE_TEST_SOURCE_DIR) + "/../sdk/example"; }
  // Both example plugins and their tests.
  static std::string ExampleBuild() { return Root() + "/example"; }
  void BuildExample() { ASSERT_EQ(example_built_.exit_code, 0) << example_built_.out; }

  // Configures and builds the plugin project in `source` against the installed SDK.
  static ProcessResult Build(const std::string& source, const std::string& build) {
    ProcessResult configure = RunProcess({SLUICE_TEST_CMAKE, "-S", source, "-B", build, "-G", "Ninja",
                                          "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_PREFIX_PATH=" + Prefix()});
    if (configure.exit_code != 0) return configure;
    return RunProcess({SLUICE_TEST_CMAKE, "--build", build});
  }

  TempDir dir_;
  static std::string install_error_;
  static ProcessResult example_built_;
};

std::string SdkInstallTest::install_error_;
ProcessResult SdkInstallTest::example_built_;

TEST_F(SdkInstallTest, ExamplePluginBuildsAgainstTheInstalledSdkAndRuns) {
  const std::string source = ExampleSource();
  BuildExample();
  // The plugins' own tests, through the installed stage harness.
  ProcessResult tested = RunProcess({SLUICE_TEST_CTEST, "--test-dir", ExampleBuild(), "--output-on-failure"});
  EXPECT_EQ(tested.exit_code, 0) << tested.out << tested.err;
  EXPECT_NE(tested.out.find("100% tests passed, 0 tests failed out of 5"), std::string::npos) << tested.out;

  ProcessOptions env{
      dir_.path().string(), {{"SLUICE_PLUGIN_PATH", ExampleBuild()}, {"SLUICE_STORE", dir_ / "store"}}, {}};
  const std::string sluice = Prefix() + "/bin/sluice";
  ProcessResult show = RunProcess({sluice, "plugins", "show", "example-tiny-cnn", "--json"}, env);
  ASSERT_EQ(show.exit_code, 0) << show.err;
  json plugin = json::parse(show.out);
  EXPECT_EQ(plugin["path"], ExampleBuild() + "/example-tiny-cnn.so");
  EXPECT_EQ(plugin["usable"], true);
  EXPECT_EQ(plugin["params"][0]["name"], "filters");

  ProcessResult run = RunProcess({sluice, "run", source + "/pipeline.toml", "--json", "--quiet", "--set",
                                  "data.limit=3000", "--set", "data.test_limit=1000", "--set", "train.epochs=1"},
                                 env);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json out = json::parse(run.out);
  EXPECT_EQ(out["status"], "succeeded");
  EXPECT_GT(out["metrics"]["eval.accuracy"].get<double>(), 0.5);
}

// What the guide promises a third party: a data plugin of their own whose models bundle
// and predict. sdk/example's JSON Lines plugin reads Fisher's iris (converted from Weka's
// ARFF by the example's script); the bundle then predicts the ARFF's rows.
// The dynamic loader reads an empty RUNPATH entry as the current directory: a binary
// with one (CMake pads a build RPATH that install rewrites) loads a libpq.so.5 or
// libsluice_sdk.so.1 from wherever the user stands. Neither the build tree's binaries
// nor the installed ones may have one.
TEST_F(SdkInstallTest, NoBinarySearchesTheCurrentDirectoryForLibraries) {
  std::vector<std::string> files;
  for (const std::string& root : {std::string(SLUICE_TEST_BUILD_DIR), Prefix()}) {
    files.push_back(root + "/bin/sluice");
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root + "/lib")) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file() && name.find(".so") != std::string::npos) files.push_back(entry.path().string());
    }
  }
  ASSERT_GT(files.size(), 20u) << "the plugins and libraries were not found";
  int with_path = 0;
  for (const std::string& file : files) {
    ProcessResult r = RunProcess({"/usr/bin/readelf", "-d", file});
    ASSERT_EQ(r.exit_code, 0) << file << ": " << r.err;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      if (line.find("(RUNPATH)") == std::string::npos && line.find("(RPATH)") == std::string::npos) continue;
      ++with_path;
      const std::string path = line.substr(line.find('[') + 1, line.rfind(']') - line.find('[') - 1);
      EXPECT_EQ(("" + std::string(":") + path + ":").find("::"), std::string::npos)
          << file << " has an empty entry in its library path '" << path << "'";
    }
  }
  EXPECT_GT(with_path, 20) << "no binary has a library path: the check saw nothing";
}

TEST_F(SdkInstallTest, AThirdPartyDataPluginsModelsBundleAndPredict) {
  BuildExample();
  const std::string sluice = Prefix() + "/bin/sluice";
  ProcessOptions env{dir_.path().string(),
                     {{"SLUICE_PLUGIN_PATH", ExampleBuild()},
                      {"SLUICE_STORE", dir_ / "store"},
                      {"PATH", Prefix() + "/bin:/usr/bin:/bin"}},
                     {}};
  ProcessResult converted = RunProcess({ExampleSource() + "/iris_jsonl.sh", dir_ / "iris.jsonl"}, env);
  ASSERT_EQ(converted.exit_code, 0) << converted.err;
  EXPECT_EQ(converted.out, "wrote 150 records to " + dir_ / "iris.jsonl" + "\n");
  {
    std::ifstream in(ExampleSource() + "/iris_jsonl.toml");
    std::stringstream text;
    text << in.rdbuf();
    dir_.Write("iris_jsonl.toml", text.str());  // beside its data, as a user keeps it
  }
  ProcessResult run = RunProcess({sluice, "run", dir_ / "iris_jsonl.toml", "--json", "--quiet"}, env);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  json out = json::parse(run.out);
  EXPECT_EQ(out["status"], "succeeded");
  EXPECT_GT(out["metrics"]["eval.accuracy"].get<double>(), 0.85) << out.dump(2);

  const std::string arff = WekaExample("iris.arff");
  ProcessResult predicted = RunProcess({sluice, "predict", "iris-jsonl", "--input", arff, "--json"}, env);
  ASSERT_EQ(predicted.exit_code, 0) << predicted.err;
  json rows = json::parse(predicted.out);
  ASSERT_EQ(rows.size(), 150u) << predicted.out.substr(0, 400);
  std::vector<std::string> truth;
  {
    std::ifstream in(arff);
    std::string line;
    bool data = false;
    while (std::getline(in, line)) {
      if (data && std::count(line.begin(), line.end(), ',') == 4) truth.push_back(line.substr(line.rfind(',') + 1));
      if (line.rfind("@DATA", 0) == 0 || line.rfind("@data", 0) == 0) data = true;
    }
  }
  ASSERT_EQ(truth.size(), 150u);
  int right = 0;
  for (size_t i = 0; i < rows.size(); ++i) right += rows[i]["label"] == truth[i];
  EXPECT_GE(right, 135) << "the bundle predicted " << right << " of 150 iris rows right";
}

// A default outside its own range once went through build, validate and run, and Run
// received it. Now the plugin's build fails, naming the plugin and the parameter.
TEST_F(SdkInstallTest, AContractMistakeFailsThePluginsBuild) {
  dir_.Write("bad/CMakeLists.txt",
             "cmake_minimum_required(VERSION 3.22)\n"
             "project(Bad LANGUAGES CXX)\n"
             "find_package(SluiceSDK REQUIRED)\n"
             "sluice_add_plugin(bad-contract SOURCES bad.cpp NO_TORCH)\n");
  dir_.Write("bad/bad.cpp",
             "#include \"sluice/plugin.hpp\"\n"
             "class Bad final : public sluice::Stage {\n"
             " public:\n"
             "  static sluice::Contract Describe() {\n"
             "    return sluice::Contract(\"bad-contract\", \"1.0.0\", sluice::Kind::kOther)\n"
             "        .param(sluice::IntParam(\"size\", 5).range(10, 1000000))\n"
             "        .param(sluice::IntParam(\"size\", 20));\n"
             "  }\n"
             "  sluice::Status Run(sluice::StageContext&) override { return sluice::Status::Ok(); }\n"
             "};\n"
             "SLUICE_PLUGIN(Bad)\n");
  ProcessResult built = Build(dir_ / "bad", dir_ / "bad-build");
  EXPECT_NE(built.exit_code, 0) << built.out;
  EXPECT_NE(built.out.find("bad-contract.so: error: the contract of plugin 'bad-contract' has 2 mistakes:\n"
                           "  parameter 'size': its default 5 is outside its range [10, 1000000]\n"
                           "  parameter 'size' is declared twice\n"),
            std::string::npos)
      << built.out << built.err;
}

}  // namespace
}  // namespace sluice::testing
