// Third-party plugins built exactly as their authors would: install Sluice, build against
// the installed SDK with find_package(SluiceSDK), put the plugin on SLUICE_PLUGIN_PATH,
// and run a pipeline that uses it with the installed sluice.
#include <gtest/gtest.h>

#include <memory>

#include <nlohmann/json.hpp>

#include "process.hpp"
#include "temp_dir.hpp"

namespace sluice::testing {
namespace {

using nlohmann::json;

class SdkInstallTest : public ::testing::Test {
 protected:
  // One installation for the suite.
  static void SetUpTestSuite() {
    installed_ = new TempDir();
    ProcessResult r = RunProcess({SLUICE_TEST_CMAKE, "--install", SLUICE_TEST_BUILD_DIR, "--prefix", Prefix()});
    install_error_ = r.exit_code == 0 ? "" : r.out + r.err;
  }
  static void TearDownTestSuite() {
    delete installed_;
    installed_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(install_error_, "") << "cmake --install failed"; }

  static std::string Prefix() { return *installed_ / "prefix"; }

  // Configures and builds the plugin project in `source` against the installed SDK.
  ProcessResult Build(const std::string& source, const std::string& build) {
    ProcessResult configure = RunProcess({SLUICE_TEST_CMAKE, "-S", source, "-B", build, "-G", "Ninja",
                                          "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_PREFIX_PATH=" + Prefix()});
    if (configure.exit_code != 0) return configure;
    return RunProcess({SLUICE_TEST_CMAKE, "--build", build});
  }

  TempDir dir_;
  static TempDir* installed_;
  static std::string install_error_;
};

TempDir* SdkInstallTest::installed_ = nullptr;
std::string SdkInstallTest::install_error_;

TEST_F(SdkInstallTest, ExamplePluginBuildsAgainstTheInstalledSdkAndRuns) {
  const std::string source = std::string(SLUICE_TEST_SOURCE_DIR) + "/../sdk/example";
  ProcessResult built = Build(source, dir_ / "example");
  ASSERT_EQ(built.exit_code, 0) << built.out << built.err;
  // Its own test, through the installed stage harness.
  ProcessResult tested = RunProcess({SLUICE_TEST_CTEST, "--test-dir", dir_ / "example", "--output-on-failure"});
  EXPECT_EQ(tested.exit_code, 0) << tested.out << tested.err;
  EXPECT_NE(tested.out.find("100% tests passed, 0 tests failed out of 2"), std::string::npos) << tested.out;

  ProcessOptions env{
      dir_.path().string(), {{"SLUICE_PLUGIN_PATH", dir_ / "example"}, {"SLUICE_STORE", dir_ / "store"}}, {}};
  const std::string sluice = Prefix() + "/bin/sluice";
  ProcessResult show = RunProcess({sluice, "plugins", "show", "example-tiny-cnn", "--json"}, env);
  ASSERT_EQ(show.exit_code, 0) << show.err;
  json plugin = json::parse(show.out);
  EXPECT_EQ(plugin["path"], dir_ / "example" + "/example-tiny-cnn.so");
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
