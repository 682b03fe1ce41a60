// The evaluation stage alone: its metrics are those of its own predictions file.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "datasets.hpp"
#include "forward_passes.hpp"
#include "metrics.hpp"
#include "sluice/testing/stage_harness.hpp"
#include "sluice/testing/status_matchers.hpp"

namespace sluice {
namespace {

// A fixed linear classifier (no training needed).
class FixedNetwork final : public Network {
 public:
  FixedNetwork() { weight_ = register_parameter("weight", torch::tensor({{1.0f, -1.0f, 0.5f}, {0.2f, 0.8f, -1.0f}})); }
  torch::Tensor forward(torch::Tensor x) override { return x.matmul(weight_); }

 private:
  torch::Tensor weight_;
};

// Sums each image's pixels per channel, recording the largest pass it was given.
class PassCountingNetwork final : public Network {
 public:
  torch::Tensor forward(torch::Tensor x) override {
    largest_pass = std::max(largest_pass, x.size(0));
    return x.flatten(2).sum(2);
  }
  int64_t largest_pass = 0;
};

TEST(ForwardPassesTest, ImagesOnTheCpuAndTextsGoThroughInPassesWithTheSameOutputs) {
  const auto rows_per_pass = [](std::vector<int64_t> sample_shape, torch::Device device) {
    InputSchema schema;
    schema.sample_shape = std::move(sample_shape);
    return inference::RowsPerPass(schema, device);
  };
  EXPECT_EQ(rows_per_pass({1, 28, 28}, torch::kCPU), 128);
  EXPECT_EQ(rows_per_pass({3, 56, 56}, torch::kCPU), 10);
  EXPECT_GT(rows_per_pass({41}, torch::kCPU), int64_t{1} << 40) << "tables go through at once";
  EXPECT_GT(rows_per_pass({3, 56, 56}, torch::kCUDA), int64_t{1} << 40) << "images on a GPU go through at once";
  InputSchema text;
  text.sample_shape = {128};
  text.categorical_names = {kTokensColumn};
  text.categorical_cardinality = {30522};
  EXPECT_EQ(inference::RowsPerPass(text, torch::kCPU), 64);
  EXPECT_EQ(inference::RowsPerPass(text, torch::kCUDA), 64);

  torch::manual_seed(3);
  Inputs x;
  x.dense = torch::rand({1000, 3, 56, 56});
  PassCountingNetwork whole, in_passes;
  const torch::Tensor expected = whole.Forward(x);
  const torch::Tensor got = inference::ForwardInPasses(in_passes, x, rows_per_pass({3, 56, 56}, torch::kCPU));
  EXPECT_EQ(whole.largest_pass, 1000);
  EXPECT_EQ(in_passes.largest_pass, 10);
  ASSERT_EQ(got.sizes(), expected.sizes());
  EXPECT_TRUE(torch::equal(got, expected)) << "largest difference " << (got - expected).abs().max().item<double>();
}

TEST(ClassificationMetricsStageTest, PredictionsFileReproducesTheMetrics) {
  auto data = testing::Blobs(400, 3, 2);
  auto model = std::make_shared<TrainedModel>();
  model->network = std::make_shared<FixedNetwork>();
  model->class_names = data->class_names;
  model->schema = data->schema();

  testing::StageHarness h("classification-metrics");
  h.Input("data", data).Input("model", model).Set("batch_size", int64_t{64});
  ASSERT_OK(h.Run());

  std::ifstream in(h.artifacts().at("predictions"));
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "index,label,pred,p_0,p_1,p_2");
  std::vector<int64_t> labels;
  std::vector<double> probs;
  int64_t rows = 0;
  while (std::getline(in, line)) {
    std::stringstream row(line);
    std::string cell;
    std::vector<std::string> cells;
    while (std::getline(row, cell, ',')) cells.push_back(cell);
    ASSERT_EQ(cells.size(), 6u);
    EXPECT_EQ(std::stoll(cells[0]), rows++);
    labels.push_back(std::stoll(cells[1]));
    for (int c = 3; c < 6; ++c) probs.push_back(std::stod(cells[static_cast<size_t>(c)]));
  }
  EXPECT_EQ(rows, data->test.size());
  const metrics::ClassificationReport r = metrics::Classify(labels, probs, 3);
  EXPECT_NEAR(h.Metric("accuracy").at(0).second, r.accuracy, 1e-12);
  EXPECT_NEAR(h.Metric("f1_macro").at(0).second, r.f1_macro, 1e-12);
  EXPECT_NEAR(h.Metric("roc_auc").at(0).second, r.roc_auc, 1e-7);
  EXPECT_NEAR(h.Metric("log_loss").at(0).second, r.log_loss, 1e-6);
  EXPECT_EQ(h.artifacts().count("confusion_matrix"), 1u);
  EXPECT_EQ(h.artifacts().count("per_class"), 1u);
}

TEST(ClassificationMetricsStageTest, RefusesAModelForOtherClasses) {
  auto data = testing::Blobs(40, 3, 2);
  auto model = std::make_shared<TrainedModel>();
  model->network = std::make_shared<FixedNetwork>();
  model->class_names = {"a", "b"};
  testing::StageHarness h("classification-metrics");
  h.Input("data", data).Input("model", model);
  EXPECT_EQ(h.Run().message(), "the model was trained for 2 classes but the data has 3");
}

}  // namespace
}  // namespace sluice
