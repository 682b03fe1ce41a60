// Bad pipeline files and their exact expected messages (tests/golden/bad/NAME.toml and
// NAME.expected). Optional NAME.args holds extra arguments, one per line; NAME.path the
// test-plugin folders to search. The test plugins' folder reads as $PLUGINS, the build
// tree as $BUILD, this folder as $GOLDEN, the host's toolchain key as $TOOLCHAIN.
//
// After an intended change of wording: SLUICE_UPDATE_GOLDEN=1 ctest -R Golden, then
// review the diff of tests/golden.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "process.hpp"
#include "sluice/plugin.hpp"
#include "temp_dir.hpp"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;

const fs::path kGolden = fs::path(SLUICE_TEST_SOURCE_DIR) / "golden" / "bad";

std::vector<std::string> Lines(const fs::path& file) {
  std::vector<std::string> lines;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, ValidateAndRunReportExactlyTheExpectedErrors) {
  const std::string name = GetParam();
  std::vector<std::string> args = {SluiceBinary(), "validate", name + ".toml"};
  for (const std::string& a : Lines(kGolden / (name + ".args"))) args.push_back(a);
  std::vector<std::string> folders = Lines(kGolden / (name + ".path"));
  if (folders.empty()) folders = {"good"};
  std::string plugin_path;
  for (const std::string& f : folders)
    plugin_path += (plugin_path.empty() ? "" : ":") + std::string(SLUICE_TEST_PLUGIN_DIR) + "/" + f;
  ProcessOptions options{kGolden.string(), {{"SLUICE_PLUGIN_PATH", plugin_path}}, {"SLUICE_STORE", "SLUICE_DATA_PATH"}};

  ProcessResult validate = RunProcess(args, options);
  EXPECT_EQ(validate.exit_code, 2) << validate.err;
  EXPECT_EQ(validate.out, "");
  // The host's toolchain key names its LibTorch: the same files hold for 1.13 and 2.x.
  const std::string actual =
      Replace(Replace(Replace(Replace(validate.err, SLUICE_TEST_PLUGIN_DIR, "$PLUGINS"), kGolden.string(), "$GOLDEN"),
                      SLUICE_TEST_BUILD_DIR, "$BUILD"),
              "'" SLUICE_TOOLCHAIN_KEY "'", "'$TOOLCHAIN'");
  const fs::path expected_file = kGolden / (name + ".expected");
  if (std::getenv("SLUICE_UPDATE_GOLDEN")) std::ofstream(expected_file) << actual;
  EXPECT_EQ(actual, ReadFile(expected_file.string())) << "golden file: " << expected_file;

  // `run` checks the same way before anything runs, and records nothing.
  TempDir store;
  args[1] = "run";
  args.insert(args.end(), {"--store", store / "store"});
  ProcessResult run = RunProcess(args, options);
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_EQ(run.err, validate.err + "sluice run: the pipeline is invalid; nothing was run\n");
  EXPECT_FALSE(fs::exists(store / "store"));
}

std::vector<std::string> GoldenNames() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(kGolden)) {
    if (entry.path().extension() == ".toml") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

INSTANTIATE_TEST_SUITE_P(BadPipelines, GoldenTest, ::testing::ValuesIn(GoldenNames()),
                         [](const auto& param_info) { return param_info.param; });

TEST(GoldenFilesTest, EveryBadPipelineHasItsExpectedMessages) {
  for (const std::string& name : GoldenNames()) {
    EXPECT_TRUE(fs::exists(kGolden / (name + ".expected"))) << name;
  }
}

}  // namespace
}  // namespace sluice::testing
