// The example data plugin's test, built against the installed SDK.
#include <gtest/gtest.h>
#include <torch/types.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "sluice/testing/stage_harness.hpp"
#include "sluice/testing/status_matchers.hpp"
#include "sluice/torch.hpp"

namespace {

namespace fs = std::filesystem;

// A file in a fresh folder of its own, removed with it.
class TempFile {
 public:
  TempFile(const std::string& name, const std::string& text)
      : dir_(fs::temp_directory_path() / ("example-jsonl-" + std::to_string(getpid()) + "-" + name)),
        path_((dir_ / name).string()) {
    fs::create_directories(dir_);
    std::ofstream(path_) << text;
  }
  ~TempFile() { fs::remove_all(dir_); }
  const std::string& path() const { return path_; }

 private:
  fs::path dir_;
  std::string path_;
};

// 40 records, two classes told apart by "a"; record 7 has no "b".
std::string Records() {
  std::string text;
  for (int i = 0; i < 40; ++i) {
    const bool big = i % 2 == 1;
    text += "{\"a\": " + std::to_string(big ? 10 + i % 5 : i % 5) + ", \"note\": \"x\", ";
    text += i == 7 ? "\"b\": null, " : "\"b\": " + std::to_string(i) + ".5, ";
    text += std::string("\"label\": \"") + (big ? "big" : "small") + "\"}\n";
  }
  return text;
}

using sluice::testing::StageHarness;

// The plugin, set to read `file` with "label" as its target.
StageHarness& Reading(StageHarness& h, const std::string& file) {
  return h.Set("file", file).Set("target", std::string("label"));
}

TEST(JsonlTableTest, SplitsStandardizesAndDescribesItsPreprocessing) {
  TempFile file("records.jsonl", Records());
  StageHarness h("example-jsonl");
  Reading(h, file.path());
  ASSERT_OK(h.Run());
  auto ds = h.Output<sluice::TensorDataset>("data");
  ASSERT_TRUE(ds);
  EXPECT_EQ(ds->train.size(), 24);
  EXPECT_EQ(ds->validation.size(), 8);
  EXPECT_EQ(ds->test.size(), 8);
  EXPECT_EQ(ds->class_names, (std::vector<std::string>{"big", "small"}));
  EXPECT_EQ(ds->sample_shape, (std::vector<int64_t>{2}));  // "note" is not a number
  // Standardized on the training split: mean 0, deviation 1 per feature.
  torch::Tensor mean = ds->train.features.mean(0);
  EXPECT_LT(mean.abs().max().item<float>(), 1e-5) << mean;
  // The preprocessing is the SDK's table kind, so bundles and `sluice predict` can use it.
  EXPECT_OK(sluice::CheckPreprocessing(ds->preprocessing, ds->sample_shape));
  EXPECT_NE(ds->preprocessing.find("\"column\":\"b\""), std::string::npos) << ds->preprocessing;
  EXPECT_EQ(h.Metric("rows"), (std::vector<std::pair<int64_t, double>>{{0, 40.0}}));
}

TEST(JsonlTableTest, TheSeedDecidesTheSplit) {
  TempFile file("records.jsonl", Records());
  StageHarness first("example-jsonl"), again("example-jsonl"), other("example-jsonl");
  Reading(first, file.path()).Set("seed", int64_t{3});
  Reading(again, file.path()).Set("seed", int64_t{3});
  Reading(other, file.path()).Set("seed", int64_t{4});
  ASSERT_OK(first.Run());
  ASSERT_OK(again.Run());
  ASSERT_OK(other.Run());
  auto test_features = [](const StageHarness& h) { return h.Output<sluice::TensorDataset>("data")->test.features; };
  EXPECT_TRUE(torch::equal(test_features(first), test_features(again)));
  EXPECT_FALSE(torch::equal(test_features(first), test_features(other)));
}

TEST(JsonlTableTest, ABadRecordIsNamedByLine) {
  TempFile broken("broken.jsonl", "{\"a\": 1, \"label\": \"x\"}\n{\"a\": 2, \"label\"\n");
  StageHarness h("example-jsonl");
  Reading(h, broken.path());
  EXPECT_EQ(h.Run().message(), broken.path() + ":2: not a JSON object: {\"a\": 2, \"label\"");

  TempFile mistyped("mistyped.jsonl", "{\"a\": 1, \"label\": \"x\"}\n{\"a\": \"two\", \"label\": \"y\"}\n");
  StageHarness m("example-jsonl");
  Reading(m, mistyped.path());
  EXPECT_EQ(m.Run().message(), mistyped.path() + ":2: 'a' is string, not a number");
}

}  // namespace
