// Several processes writing one store at once lose nothing and never see "database is
// locked".
#include <gtest/gtest.h>

#include <memory>

#include <nlohmann/json.hpp>

#include "process.hpp"
#include "temp_dir.hpp"

namespace sluice::testing {
namespace {

using nlohmann::json;

TEST(ConcurrencyTest, FourProcessesWriteOneStoreTogether) {
  constexpr int kProcesses = 4;
  constexpr int kPoints = 60000;  // several batches per process
  TempDir dir;
  dir.Write("many.toml", "[stages.a]\nplugin = \"test-echo\"\ncount = " + std::to_string(kPoints) +
                             "\nartifact = true\n[stages.b]\nplugin = \"test-echo\"\ninputs = { in = \"a\" }\n"
                             "count = " +
                             std::to_string(kPoints) + "\n");
  ProcessOptions options{
      dir.path().string(),
      {{"SLUICE_PLUGIN_PATH", std::string(SLUICE_TEST_PLUGIN_DIR) + "/good"}, {"SLUICE_STORE", dir / "store"}},
      {}};
  // All start before any finishes, on a store none has created yet.
  std::vector<std::unique_ptr<Child>> children;
  for (int i = 0; i < kProcesses; ++i) {
    children.push_back(std::make_unique<Child>(std::vector<std::string>{SluiceBinary(), "run", "many.toml", "--json",
                                                                        "--set", "a.label=run" + std::to_string(i)},
                                               options));
  }
  std::vector<std::string> ids;
  for (auto& child : children) {
    ProcessResult r = child->Wait();
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err.find("locked"), std::string::npos) << r.err;
    ids.push_back(json::parse(r.out)["id"]);
  }
  for (const std::string& id : ids) {
    for (const char* key : {"a.value", "b.value"}) {
      ProcessResult m = RunProcess({SluiceBinary(), "runs", "metrics", id, key, "--json"}, options);
      ASSERT_EQ(m.exit_code, 0) << m.err;
      json series = json::parse(m.out);
      ASSERT_EQ(series.size(), static_cast<size_t>(kPoints)) << id << " " << key;
      EXPECT_EQ(series.back()["step"], kPoints - 1);
    }
  }
  ProcessResult list = RunProcess({SluiceBinary(), "runs", "list", "--json", "--status", "succeeded"}, options);
  EXPECT_EQ(json::parse(list.out).size(), static_cast<size_t>(kProcesses));
}

}  // namespace
}  // namespace sluice::testing
