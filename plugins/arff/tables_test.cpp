// The csv and arff stages alone: splits, preprocessing, malformed rows.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "data_files.hpp"
#include "sluice/testing/stage_harness.hpp"
#include "sluice/testing/status_matchers.hpp"
#include "sluice/torch.hpp"
#include "temp_dir.hpp"

namespace sluice {
namespace {

TEST(ArffStageTest, SplitsCreditDataStratifiedWithItsPreprocessing) {
  testing::StageHarness h("arff");
  h.Set("file", sluice::testing::WekaExample("credit-g.arff")).Set("target", std::string("class"));
  ASSERT_OK(h.Run());
  auto ds = h.Output<TensorDataset>("data");
  ASSERT_TRUE(ds);
  EXPECT_EQ(ds->task, Task::kClassification);
  EXPECT_EQ(ds->class_names, (std::vector<std::string>{"good", "bad"}));
  EXPECT_EQ(ds->train.size() + ds->validation.size() + ds->test.size(), 1000);
  EXPECT_EQ(ds->test.size(), 150);
  // 30% of credit-g is "bad": stratification keeps it in every split.
  EXPECT_EQ(ds->test.targets.sum().item<int64_t>(), 45);
  EXPECT_EQ(ds->validation.targets.sum().item<int64_t>(), 45);
  // 7 numeric columns and 13 categorical ones with 56 values, one-hot.
  EXPECT_EQ(ds->sample_shape, (std::vector<int64_t>{63}));
  const auto pre = nlohmann::json::parse(ds->preprocessing);
  EXPECT_EQ(pre["kind"], "table");
  EXPECT_EQ(pre["format"], "arff");
  EXPECT_EQ(pre["features"].size(), 20u);
  // Standardized with the training rows' statistics.
  EXPECT_NEAR(ds->train.features.select(1, 4).mean().item<double>(), 0.0, 1e-5);  // duration
  EXPECT_EQ(h.artifacts().count("test_rows"), 1u);
}

TEST(ArffStageTest, ReadsWekasDiabetesData) {
  testing::StageHarness h("arff");
  h.Set("file", sluice::testing::WekaExample("diabetes.arff")).Set("target", std::string("class"));
  ASSERT_OK(h.Run());
  auto ds = h.Output<TensorDataset>("data");
  ASSERT_TRUE(ds);
  EXPECT_EQ(ds->task, Task::kClassification);
  EXPECT_EQ(ds->class_names, (std::vector<std::string>{"tested_negative", "tested_positive"}));
  EXPECT_EQ(ds->train.size() + ds->validation.size() + ds->test.size(), 768);
  // 268 of the 768 women tested positive; every split keeps that share.
  const double positives =
      (ds->train.targets.sum() + ds->validation.targets.sum() + ds->test.targets.sum()).item<double>();
  EXPECT_EQ(positives, 268);
  EXPECT_NEAR(ds->test.targets.to(torch::kFloat).mean().item<double>(), 268.0 / 768, 0.01);
  EXPECT_EQ(ds->sample_shape, (std::vector<int64_t>{8}));  // eight numeric attributes
  EXPECT_NEAR(ds->train.features.mean().item<double>(), 0.0, 1e-5);
}

TEST(CsvStageTest, RegressionTargetsAreStandardizedAndCategoriesEmbedded) {
  testing::TempDir dir;
  std::string csv = "size,city,price\n";
  for (int i = 0; i < 200; ++i) {
    csv += std::to_string(20 + i % 50) + "," +
           (i % 3 == 0   ? "oslo"
            : i % 3 == 1 ? "rome"
                         : "lima") +
           "," + std::to_string(1000 + 37 * (i % 50) + 10 * (i % 3)) + "\n";
  }
  testing::StageHarness h("csv");
  h.Set("file", dir.Write("houses.csv", csv)).Set("categorical_encoding", std::string("embedding"));
  ASSERT_OK(h.Run());
  auto ds = h.Output<TensorDataset>("data");
  EXPECT_EQ(ds->task, Task::kRegression);
  EXPECT_EQ(ds->target_name, "price");
  EXPECT_EQ(ds->categorical_cardinality, (std::vector<int64_t>{4}));  // lima, oslo, rome + unknown
  EXPECT_NEAR(ds->train.targets.mean().item<double>(), 0.0, 1e-5);
  EXPECT_GT(ds->target_scale, 100);
  EXPECT_EQ(ds->train.categorical.min().item<int64_t>(), 1);
}

TEST(CsvStageTest, AMalformedRowFailsTheStageUnlessSkipped) {
  testing::TempDir dir;
  std::string csv = "a,b,label\n";
  for (int i = 0; i < 30; ++i)
    csv += std::to_string(i) + "," + std::to_string(i * 2) + "," + (i % 2 ? "x" : "y") + "\n";
  csv += "1,2\n";
  const std::string path = dir.Write("bad.csv", csv);
  testing::StageHarness strict("csv");
  strict.Set("file", path);
  EXPECT_EQ(strict.Run().message(), path + ":32: expected 3 fields, found 2");
  testing::StageHarness lenient("csv");
  lenient.Set("file", path).Set("skip_bad_rows", true);
  ASSERT_OK(lenient.Run());
  EXPECT_EQ(lenient.Metric("skipped_rows").at(0).second, 1.0);
  EXPECT_EQ(lenient.artifacts().count("skipped_rows"), 1u);
  EXPECT_EQ(lenient.info()[0], "skipped " + path + ":32: expected 3 fields, found 2");
}

}  // namespace
}  // namespace sluice
