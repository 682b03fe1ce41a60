// A test that runs the `sluice` binary as a user does, in a temporary folder with its own
// store (SLUICE_STORE) and only the built-in plugins: the fixture the integration suites
// about runs, models and text share.
#ifndef SLUICE_TESTS_SUPPORT_STORE_CLI_TEST_HPP_
#define SLUICE_TESTS_SUPPORT_STORE_CLI_TEST_HPP_

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "process.hpp"
#include "temp_dir.hpp"

namespace sluice::testing {

// Rows of a predictions CSV (index,pred,p_0,... or index,e_0,...) as numbers.
inline std::vector<std::vector<double>> CsvNumbers(const std::string& path) {
  std::vector<std::vector<double>> rows;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::vector<double> row;
    std::stringstream s(line);
    for (std::string cell; std::getline(s, cell, ',');) row.push_back(std::stod(cell));
    rows.push_back(row);
  }
  return rows;
}

class StoreCliTest : public ::testing::Test {
 protected:
  ProcessOptions Options() const {
    return ProcessOptions{dir_.path().string(), {{"SLUICE_STORE", dir_ / "store"}}, {"SLUICE_PLUGIN_PATH"}};
  }
  // `sluice ARGS...`, in the folder, with its store.
  ProcessResult Sluice(std::vector<std::string> args) {
    args.insert(args.begin(), SluiceBinary());
    return RunProcess(args, Options());
  }
  // `sluice ARGS... --json`, which must succeed; its output parsed.
  nlohmann::json SluiceJson(std::vector<std::string> args) {
    args.push_back("--json");
    ProcessResult r = Sluice(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.empty() ? nlohmann::json() : nlohmann::json::parse(r.out);
  }

  TempDir dir_;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SUPPORT_STORE_CLI_TEST_HPP_
