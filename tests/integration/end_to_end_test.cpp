// The Fashion-MNIST quick-start pipeline on the real data, shortened, through the
// sluice binary; its predictions are recomputed independently by scikit-learn.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "process.hpp"
#include "temp_dir.hpp"

namespace sluice::testing {
namespace {

using nlohmann::json;

const std::string kPipeline = std::string(SLUICE_TEST_SOURCE_DIR) + "/../pipelines/fashion_mnist_mlp.toml";

// Reads predictions.csv and prints sklearn's metrics for it as JSON.
constexpr const char* kRecompute = R"(
import csv, json, sys
import numpy as np
from sklearn import metrics
rows = list(csv.reader(open(sys.argv[1])))
header, rows = rows[0], rows[1:]
y = np.array([int(r[1]) for r in rows]); pred = np.array([int(r[2]) for r in rows])
p = np.array([[float(v) for v in r[3:]] for r in rows])
assert (p.argmax(axis=1) == pred).all()
k = p.shape[1]
print(json.dumps({
  "accuracy": metrics.accuracy_score(y, pred),
  "precision_macro": metrics.precision_score(y, pred, average="macro", zero_division=0),
  "recall_macro": metrics.recall_score(y, pred, average="macro", zero_division=0),
  "f1_macro": metrics.f1_score(y, pred, average="macro", zero_division=0),
  "roc_auc": metrics.roc_auc_score(y, p, multi_class="ovr") if k > 2 else metrics.roc_auc_score(y, p[:, 1]),
  "log_loss": metrics.log_loss(y, p, labels=list(range(k))),
}))
)";

TEST(EndToEndTest, FashionMnistTrainsEvaluatesAndAgreesWithScikitLearn) {
  TempDir dir;
  ProcessOptions options{dir.path().string(), {{"SLUICE_STORE", dir / "store"}}, {"SLUICE_PLUGIN_PATH"}};
  ProcessResult r = RunProcess({SluiceBinary(), "run", kPipeline, "--json", "--set", "data.limit=12000", "--set",
                                "data.test_limit=3000", "--set", "train.epochs=2", "--set", "pipeline.threads=2"},
                               options);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json run = json::parse(r.out);
  EXPECT_EQ(run["status"], "succeeded");
  EXPECT_GT(run["metrics"]["eval.accuracy"].get<double>(), 0.75);
  EXPECT_EQ(run["metrics"]["data.train_size"], 10800);
  EXPECT_EQ(run["metrics"]["data.test_size"], 3000);

  ProcessResult shown = RunProcess({SluiceBinary(), "runs", "show", run["id"], "--json"}, options);
  json show = json::parse(shown.out);
  EXPECT_EQ(show["environment"]["device"], "cpu");
  EXPECT_EQ(show["environment"]["threads"], "2");
  EXPECT_EQ(show["params"]["train.optimizer"], "adamw");
  ProcessResult loss = RunProcess({SluiceBinary(), "runs", "metrics", run["id"], "train.loss", "--json"}, options);
  EXPECT_EQ(json::parse(loss.out).size(), 2u * 85u);  // 10800 / 128 -> 85 steps per epoch

  std::string predictions;
  for (const auto& a : show["artifacts"]) {
    if (a["stage"] == "eval" && a["name"] == "predictions") predictions = a["path"];
  }
  ASSERT_FALSE(predictions.empty());
  const std::string script = dir.Write("recompute.py", kRecompute);
  ProcessResult sk = RunProcess({"/usr/bin/python3", script, predictions});
  ASSERT_EQ(sk.exit_code, 0) << "scikit-learn is needed here (apt install python3-sklearn): " << sk.err;
  json expected = json::parse(sk.out);
  for (const auto& [key, value] : expected.items()) {
    EXPECT_NEAR(run["metrics"]["eval." + key].get<double>(), value.get<double>(), 1e-6) << key;
  }
}

TEST(EndToEndTest, SameSeedSameRunDifferentSeedDifferentRun) {
  TempDir dir;
  ProcessOptions options{dir.path().string(), {{"SLUICE_STORE", dir / "store"}}, {"SLUICE_PLUGIN_PATH"}};
  auto accuracy = [&](const std::string& seed) {
    ProcessResult r =
        RunProcess({SluiceBinary(), "run", kPipeline, "--json", "--quiet", "--set", "data.limit=3000", "--set",
                    "data.test_limit=1000", "--set", "train.epochs=1", "--set", "pipeline.seed=" + seed},
                   options);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out)["metrics"]["eval.log_loss"].get<double>();
  };
  EXPECT_EQ(accuracy("1"), accuracy("1"));
  EXPECT_NE(accuracy("1"), accuracy("2"));
}

}  // namespace
}  // namespace sluice::testing
