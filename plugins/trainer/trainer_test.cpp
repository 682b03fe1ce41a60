// The trainer alone, through the stage harness, on small synthetic data.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "batching.hpp"
#include "datasets.hpp"
#include "schedule.hpp"
#include "sluice/testing/stage_harness.hpp"
#include "sluice/testing/status_matchers.hpp"
#include "temp_dir.hpp"

namespace sluice {
namespace {

using testing::StageHarness;

std::shared_ptr<ModelSpec> MlpSpec(std::vector<int64_t> hidden) {
  StageHarness mlp("mlp");
  mlp.Set("hidden", std::move(hidden));
  EXPECT_OK(mlp.Run());
  return mlp.Output<ModelSpec>("model");
}

StageHarness& Trainer(StageHarness& h, const std::shared_ptr<TensorDataset>& data) {
  h.Input("data", data).Input("model", MlpSpec({16}));
  h.Set("device", std::string("cpu")).Set("epochs", int64_t{5}).Set("batch_size", int64_t{32});
  h.Set("lr", 0.01).Set("seed", int64_t{11});
  return h;
}

TEST(BatchingTest, BucketsKeepEveryTextOnceAndBatchSimilarLengthsTogether) {
  std::vector<int64_t> lengths, order;
  for (int64_t i = 0; i < 1000; ++i) lengths.push_back(3 + (i * 7919) % 125);
  for (int64_t i = 0; i < 1000; ++i) order.push_back((i * 389) % 1000);
  std::mt19937_64 rng(1), same(1);
  std::vector<int64_t> bucketed = order, again = order;
  trainer::BucketByLength(bucketed, lengths, 16, 50, rng);
  trainer::BucketByLength(again, lengths, 16, 50, same);
  EXPECT_EQ(bucketed, again) << "the same generator gives the same batches";
  std::vector<int64_t> sorted = bucketed;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[static_cast<size_t>(i)], i) << "every text exactly once";
  // Padding: each batch padded to its longest costs far less than shuffled batches do.
  auto padding = [&](const std::vector<int64_t>& o) {
    int64_t pad = 0;
    for (size_t b = 0; b < o.size(); b += 16) {
      int64_t longest = 0, sum = 0;
      for (size_t i = b; i < std::min(o.size(), b + 16); ++i) {
        longest = std::max(longest, lengths[static_cast<size_t>(o[i])]);
        sum += lengths[static_cast<size_t>(o[i])];
      }
      pad += longest * static_cast<int64_t>(std::min<size_t>(16, o.size() - b)) - sum;
    }
    return pad;
  };
  EXPECT_LT(padding(bucketed) * 10, padding(order))
      << "bucketed " << padding(bucketed) << ", shuffled " << padding(order);
}

TEST(ScheduleTest, LinearWarmsUpThenDecaysToZero) {
  trainer::Schedule s;
  s.kind = "linear";
  s.base_lr = 1.0;
  s.warmup_steps = 10;
  s.total_steps = 110;
  EXPECT_DOUBLE_EQ(s.LearningRate(0), 0.1);
  EXPECT_DOUBLE_EQ(s.LearningRate(9), 1.0);
  EXPECT_DOUBLE_EQ(s.LearningRate(10), 1.0);
  EXPECT_DOUBLE_EQ(s.LearningRate(60), 0.5);
  EXPECT_DOUBLE_EQ(s.LearningRate(110), 0.0);
}

TEST(TrainerTest, LearnsSeparableBlobsAndLogsItsCurves) {
  auto data = testing::Blobs(600);
  StageHarness h("trainer");
  ASSERT_OK(Trainer(h, data).Run());
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
  ASSERT_OK(Trainer(a, data).Run());
  ASSERT_OK(Trainer(b, data).Run());
  Trainer(c, data).Set("seed", int64_t{12});
  ASSERT_OK(c.Run());
  EXPECT_EQ(a.Metric("loss"), b.Metric("loss"));
  EXPECT_NE(a.Metric("loss"), c.Metric("loss"));
}

TEST(TrainerTest, EveryOptimizerTrains) {
  auto data = testing::Blobs(300);
  for (const char* optimizer : {"sgd", "adam", "adamw"}) {
    SCOPED_TRACE(optimizer);
    StageHarness h("trainer");
    Trainer(h, data).Set("optimizer", std::string(optimizer)).Set("weight_decay", 1e-4);
    ASSERT_OK(h.Run());
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
  ASSERT_NOT_OK(s);
  EXPECT_NE(s.message().find("device 'cuda:3' requested"), std::string::npos) << s.message();

  StageHarness diverge("trainer");
  // Random labels cannot be fitted: a huge step size oscillates until it overflows.
  auto noise = testing::Blobs(60);
  noise->train.targets = torch::randint(0, 3, {noise->train.size()}, torch::kInt64);
  Trainer(diverge, noise).Set("lr", 10.0).Set("optimizer", std::string("sgd"));
  diverge.Set("momentum", 0.99).Set("epochs", int64_t{200});
  s = diverge.Run();
  ASSERT_NOT_OK(s);
  EXPECT_NE(s.message().find("the training loss became"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

using testing::StageHarness;

std::shared_ptr<ModelSpec> Spec(std::vector<int64_t> hidden, double dropout,
                                const std::vector<std::pair<std::string, Value>>& extra = {}) {
  StageHarness mlp("mlp");
  mlp.Set("hidden", std::move(hidden)).Set("dropout", dropout);
  for (const auto& [k, v] : extra) mlp.Set(k, v);
  for (const auto& [ref, path] : extra) {
    if (ref == "init_from") mlp.KnownModel(std::get<std::string>(path), std::get<std::string>(path));
  }
  Status s = mlp.Run();
  EXPECT_TRUE(s.ok()) << s.message();
  return mlp.Output<ModelSpec>("model");
}

void ExpectSameWeights(Network& a, Network& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
}

TEST(TrainerResumeTest, AResumedRunEndsWithTheUninterruptedRunsWeightsBitForBit) {
  auto data = testing::Blobs(300);  // 300 / 32 -> 10 steps per epoch
  auto configure = [&](StageHarness& h) -> StageHarness& {
    h.Input("data", data).Input("model", Spec({16}, 0.3));  // dropout draws random numbers too
    h.Set("device", std::string("cpu")).Set("epochs", int64_t{4}).Set("batch_size", int64_t{32});
    h.Set("lr", 0.01).Set("seed", int64_t{3}).Set("schedule", std::string("cosine"));
    return h;
  };
  testing::TempDir straight, interrupted;
  StageHarness a("trainer");
  configure(a).Checkpoints(straight.path().string(), false);
  ASSERT_OK(a.Run());

  StageHarness b("trainer");
  configure(b).Checkpoints(interrupted.path().string(), false).StopAfter(25);  // in epoch 3
  ASSERT_TRUE(b.Run().IsCancelled());

  StageHarness c("trainer");
  configure(c).Checkpoints(interrupted.path().string(), true);
  Status resumed = c.Run();
  ASSERT_TRUE(resumed.ok()) << resumed.message();
  EXPECT_EQ(c.info()[0], "resuming after epoch 2 (step 20) from " + (interrupted.path() / "last.pt").string());
  ExpectSameWeights(*a.Output<TrainedModel>("model")->network, *c.Output<TrainedModel>("model")->network);
  // The resumed run logs the steps it ran; together with the interrupted one, every step.
  EXPECT_EQ(c.Metric("loss").front().first, 21);
  const auto all_steps = a.Metric("loss");
  EXPECT_EQ(c.Metric("loss"), decltype(all_steps)(all_steps.begin() + 20, all_steps.end()));

  // A checkpoint changed after it was written is not resumed from.
  StageHarness d("trainer");
  configure(d).Checkpoints(interrupted.path().string(), false).StopAfter(25);
  ASSERT_TRUE(d.Run().IsCancelled());
  const std::string last = (interrupted.path() / "last.pt").string();
  std::ofstream(last, std::ios::binary | std::ios::app) << "tampered";
  StageHarness e("trainer");
  configure(e).Checkpoints(interrupted.path().string(), true);
  const Status refused = e.Run();
  EXPECT_NE(refused.message().find(last + " was changed after it was written (SHA-256 "), std::string::npos)
      << refused.ToString();
}

TEST(TrainerTest, EarlyStoppingStopsAndRestoresTheBestEpoch) {
  StageHarness h("trainer");
  h.Input("data", testing::Blobs(300)).Input("model", Spec({16}, 0.0));
  h.Set("device", std::string("cpu")).Set("epochs", int64_t{40}).Set("batch_size", int64_t{32}).Set("lr", 0.05);
  h.Set("early_stopping", std::string("val_loss")).Set("patience", int64_t{2}).Set("optimizer", std::string("sgd"));
  h.Set("momentum", 0.99);
  ASSERT_OK(h.Run());
  const auto val_loss = h.Metric("val_loss");
  ASSERT_LT(val_loss.size(), 40u);
  const int64_t best = static_cast<int64_t>(h.Metric("best_epoch").at(0).second);
  double best_loss = 1e9;
  int64_t best_at = 0;
  for (const auto& [epoch, loss] : val_loss) {
    if (loss < best_loss) {
      best_loss = loss;
      best_at = epoch;
    }
  }
  EXPECT_EQ(best, best_at);
  EXPECT_EQ(static_cast<int64_t>(val_loss.size()), best + 2);  // patience 2
}

TEST(TrainerTest, StepScheduleDecaysEachEpoch) {
  StageHarness h("trainer");
  h.Input("data", testing::Blobs(300)).Input("model", Spec({8}, 0.0));
  h.Set("device", std::string("cpu")).Set("epochs", int64_t{3}).Set("lr", 0.1);
  h.Set("schedule", std::string("step")).Set("step_size", int64_t{1}).Set("gamma", 0.5);
  ASSERT_OK(h.Run());
  const auto lr = h.Metric("lr");
  ASSERT_EQ(lr.size(), 3u);
  EXPECT_DOUBLE_EQ(lr[0].second, 0.1);
  EXPECT_DOUBLE_EQ(lr[1].second, 0.05);
  EXPECT_DOUBLE_EQ(lr[2].second, 0.025);
}

TEST(TrainerTest, RegressesAContinuousTarget) {
  torch::manual_seed(4);
  auto ds = std::make_shared<TensorDataset>();
  ds->task = Task::kRegression;
  auto split = [](int64_t n) {
    torch::Tensor x = torch::randn({n, 3});
    torch::Tensor y = (x.select(1, 0) * 3 - x.select(1, 1) * 2 + 0.1 * torch::randn({n})).to(torch::kFloat32);
    return Split{x, {}, y};
  };
  ds->train = split(600);
  ds->validation = split(150);
  ds->test = split(150);
  ds->sample_shape = {3};
  ds->target_name = "y";
  ds->preprocessing = testing::NumericTablePreprocessing(3, {});
  StageHarness h("trainer");
  h.Input("data", ds).Input("model", Spec({32}, 0.0));
  h.Set("device", std::string("cpu")).Set("epochs", int64_t{30}).Set("lr", 0.01);
  ASSERT_OK(h.Run());
  EXPECT_GT(h.Metric("val_r2").back().second, 0.95);
  EXPECT_LT(h.Metric("val_rmse").back().second, 0.6);
  EXPECT_EQ(h.Output<TrainedModel>("model")->task, Task::kRegression);

  StageHarness wrong("trainer");
  wrong.Input("data", ds).Input("model", Spec({4}, 0.0)).Set("early_stopping", std::string("val_accuracy"));
  EXPECT_EQ(wrong.Run().message(), "early_stopping = \"val_accuracy\" does not apply to regression data");
}

TEST(TrainerTest, StartsFromGivenWeightsAndKeepsFrozenOnesFixed) {
  auto data = testing::Blobs(300);
  StageHarness first("trainer");
  first.Input("data", data).Input("model", Spec({16}, 0.0)).Set("device", std::string("cpu"));
  ASSERT_OK(first.Run());
  testing::TempDir dir;
  const std::string weights = dir / "weights.pt";
  auto trained = first.Output<TrainedModel>("model");
  SaveWeights(*trained->network, weights);

  StageHarness tune("trainer");
  tune.Input("data", data)
      .Input("model", Spec({16}, 0.0, {{"init_from", weights}, {"freeze", std::vector<std::string>{"layers.0"}}}))
      .Set("device", std::string("cpu"))
      .Set("epochs", int64_t{2});
  ASSERT_OK(tune.Run());
  EXPECT_EQ(tune.info()[0], "initialized 4 parameter tensors from test model " + weights + "; 2 frozen");
  auto tuned = tune.Output<TrainedModel>("model");
  auto before = trained->network->named_parameters(), after = tuned->network->named_parameters();
  EXPECT_TRUE(torch::equal(before["layers.0.weight"], after["layers.0.weight"]));
  EXPECT_FALSE(torch::equal(before["layers.2.weight"], after["layers.2.weight"]));
}

// Weights that cannot be written (a full disk: /dev/full) fail with a message naming the
// file; LibTorch's own save aborted the process.
TEST(TrainerTest, WeightsThatCannotBeWrittenFailWithTheFileNotAnAbort) {
  StageHarness trainer("trainer");
  trainer.Input("data", testing::Blobs(100)).Input("model", Spec({4}, 0.0)).Set("epochs", int64_t{1});
  ASSERT_OK(trainer.Run());
  try {
    SaveWeights(*trainer.Output<TrainedModel>("model")->network, "/dev/full");
    FAIL() << "writing to a full device went through";
  } catch (const StageError& e) {
    EXPECT_EQ(std::string(e.what()), "cannot write the weights to /dev/full: No space left on device");
  }
  EXPECT_TRUE(std::filesystem::exists("/dev/full")) << "the device was removed as a partial file";
}

// A host newer than the plugin offers services it never asks for; an older one may lack a
// service it needs, which fails the stage by name rather than crashing.
TEST(TrainerTest, RunsBesideNewerServicesAndNamesAMissingOne) {
  int unused = 0;
  StageHarness newer("trainer");
  Trainer(newer, testing::Blobs(60)).Set("epochs", int64_t{1}).OfferService("future-service", 1, &unused);
  EXPECT_OK(newer.Run());
  EXPECT_EQ(newer.environment().at("device"), "cpu");
  StageHarness older("trainer");
  Trainer(older, testing::Blobs(60)).WithholdService("checkpoints");
  EXPECT_EQ(older.Run().message(),
            "this sluice does not offer the service 'checkpoints' version 1 that plugin stage 'trainer' needs; "
            "upgrade sluice");
}

TEST(TrainerTest, RefusesClassWeightsOfTheWrongLength) {
  StageHarness h("trainer");
  h.Input("data", testing::Blobs(60)).Input("model", Spec({4}, 0.0));
  h.Set("class_weight_values", std::vector<double>{1, 2});
  EXPECT_EQ(h.Run().message(), "class_weight_values has 2 weights for 3 classes");
}

}  // namespace
}  // namespace sluice
