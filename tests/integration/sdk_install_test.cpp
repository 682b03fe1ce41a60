// A third-party plugin built exactly as its author would: install Sluice, build
// sdk/example against the installed SDK with find_package(SluiceSDK), put it on
// SLUICE_PLUGIN_PATH, and run a pipeline that uses it with the installed sluice.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "process.hpp"
#include "temp_dir.hpp"

namespace sluice::testing {
namespace {

using nlohmann::json;

TEST(SdkInstallTest, ExamplePluginBuildsAgainstTheInstalledSdkAndRuns) {
  TempDir dir;
  const std::string prefix = dir / "prefix";
  const std::string source = std::string(SLUICE_TEST_SOURCE_DIR) + "/../sdk/example";
  auto step = [&](const std::vector<std::string>& argv, const ProcessOptions& options = {}) {
    ProcessResult r = RunProcess(argv, options);
    EXPECT_EQ(r.exit_code, 0) << argv[0] << " " << argv[1] << "\n" << r.out << r.err;
    return r;
  };
  step({SLUICE_TEST_CMAKE, "--install", SLUICE_TEST_BUILD_DIR, "--prefix", prefix});
  step({SLUICE_TEST_CMAKE, "-S", source, "-B", dir / "example", "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
        "-DCMAKE_PREFIX_PATH=" + prefix});
  step({SLUICE_TEST_CMAKE, "--build", dir / "example"});
  if (HasFailure()) return;

  ProcessOptions env{
      dir.path().string(), {{"SLUICE_PLUGIN_PATH", dir / "example"}, {"SLUICE_STORE", dir / "store"}}, {}};
  const std::string sluice = prefix + "/bin/sluice";
  ProcessResult show = step({sluice, "plugins", "show", "example-tiny-cnn", "--json"}, env);
  json plugin = json::parse(show.out);
  EXPECT_EQ(plugin["path"], dir / "example" + "/example-tiny-cnn.so");
  EXPECT_EQ(plugin["usable"], true);
  EXPECT_EQ(plugin["params"][0]["name"], "filters");

  ProcessResult run = step({sluice, "run", source + "/pipeline.toml", "--json", "--quiet", "--set", "data.limit=3000",
                            "--set", "data.test_limit=1000", "--set", "train.epochs=1"},
                           env);
  json out = json::parse(run.out);
  EXPECT_EQ(out["status"], "succeeded");
  EXPECT_GT(out["metrics"]["eval.accuracy"].get<double>(), 0.5);
}

}  // namespace
}  // namespace sluice::testing
