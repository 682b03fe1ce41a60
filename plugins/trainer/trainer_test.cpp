// The trainer alone, through the stage harness, on small synthetic data.
#include <gtest/gtest.h>

#include <cmath>

#include "datasets.hpp"
#include "stage_harness.hpp"

namespace sluice {
namespace {

using testing::StageHarness;

std::shared_ptr<ModelSpec> MlpSpec(std::vector<int64_t> hidden) {
  StageHarness mlp("mlp");
  mlp.Set("hidden", std::move(hidden));
  EXPECT_TRUE(mlp.Run().ok());
  return mlp.Output<ModelSpec>("model");
}

StageHarness& Trainer(StageHarness& h, const std::shared_ptr<TensorDataset>& data) {
  h.Input("data", data).Input("model", MlpSpec({16}));
  h.Set("device", std::string("cpu")).Set("epochs", int64_t{5}).Set("batch_size", int64_t{32});
  h.Set("lr", 0.01).Set("seed", int64_t{11});
  return h;
}

TEST(TrainerTest, LearnsSeparableBlobsAndLogsItsCurves) {
  auto data = testing::Blobs(600);
  StageHarness h("trainer");
  ASSERT_TRUE(Trainer(h, data).Run().ok());
  auto model = h.Output<TrainedModel>("model");
  ASSERT_TRUE(model);
  EXPECT_EQ(model->class_names, data->class_names);
  // Loss per step (19 steps per epoch), validation per epoch.
  EXPECT_EQ(h.Metric("loss").size(), 5u * 19u);
  EXPECT_EQ(h.Metric("loss").back().first, 95);
  ASSERT_EQ(h.Metric("val_accuracy").size(), 5u);
  EXPECT_GT(h.Metric("val_accuracy").back().second, 0.95);
  EXPECT_LT(h.Metric("val_loss").back().second, h.Metric("val_loss").front().second);
  EXPECT_GT(h.Metric("samples_per_sec").front().second, 0);
  EXPECT_EQ(h.artifacts().count("model"), 1u);
}

TEST(TrainerTest, SameSeedSameLossesBitForBit) {
  auto data = testing::Blobs(300);
  StageHarness a("trainer"), b("trainer"), c("trainer");
  ASSERT_TRUE(Trainer(a, data).Run().ok());
  ASSERT_TRUE(Trainer(b, data).Run().ok());
  Trainer(c, data).Set("seed", int64_t{12});
  ASSERT_TRUE(c.Run().ok());
  EXPECT_EQ(a.Metric("loss"), b.Metric("loss"));
  EXPECT_NE(a.Metric("loss"), c.Metric("loss"));
}

TEST(TrainerTest, EveryOptimizerTrains) {
  auto data = testing::Blobs(300);
  for (const char* optimizer : {"sgd", "adam", "adamw"}) {
    SCOPED_TRACE(optimizer);
    StageHarness h("trainer");
    Trainer(h, data).Set("optimizer", std::string(optimizer)).Set("weight_decay", 1e-4);
    ASSERT_TRUE(h.Run().ok());
    EXPECT_GT(h.Metric("val_accuracy").back().second, 0.9);
  }
}

TEST(TrainerTest, StopsWhenAskedAndSaysWhere) {
  StageHarness h("trainer");
  Trainer(h, testing::Blobs(600)).StopAfter(30);
  Status s = h.Run();
  EXPECT_TRUE(s.IsCancelled());
  EXPECT_EQ(s.message(), "stopped in epoch 2 at step 11 of 19");
  EXPECT_EQ(h.Metric("loss").size(), 30u);
  EXPECT_FALSE(h.Output<TrainedModel>("model"));
}

TEST(TrainerTest, ExplainsAnUnusableDeviceOrDivergence) {
  StageHarness cuda("trainer");
  Trainer(cuda, testing::Blobs(60)).Set("device", std::string("cuda:3"));
  Status s = cuda.Run();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("device 'cuda:3' requested"), std::string::npos) << s.message();

  StageHarness diverge("trainer");
  // Random labels cannot be fitted: a huge step size oscillates until it overflows.
  auto noise = testing::Blobs(60);
  noise->train.targets = torch::randint(0, 3, {noise->train.size()}, torch::kInt64);
  Trainer(diverge, noise).Set("lr", 10.0).Set("optimizer", std::string("sgd"));
  diverge.Set("momentum", 0.99).Set("epochs", int64_t{200});
  s = diverge.Run();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("the training loss became"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace sluice
