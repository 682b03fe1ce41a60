// Tables to bundles to predictions, as a user drives them: the credit-risk pipeline,
// the registry, `sluice predict` (equal to the evaluation's own predictions), refusals,
// resuming an interrupted run, fine-tuning from a run.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "process.hpp"
#include "temp_dir.hpp"

namespace sluice::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::string kPipelines = std::string(SLUICE_TEST_SOURCE_DIR) + "/../pipelines/";

class ModelsTest : public ::testing::Test {
 protected:
  ProcessOptions Options() const {
    return ProcessOptions{dir_.path().string(), {{"SLUICE_STORE", dir_ / "store"}}, {"SLUICE_PLUGIN_PATH"}};
  }
  ProcessResult Sluice(std::vector<std::string> args) {
    args.insert(args.begin(), SluiceBinary());
    return RunProcess(args, Options());
  }
  json SluiceJson(std::vector<std::string> args) {
    args.push_back("--json");
    ProcessResult r = Sluice(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.empty() ? json() : json::parse(r.out);
  }
  std::string Artifact(const std::string& run, const std::string& stage, const std::string& name) {
    const json shown = SluiceJson({"runs", "show", run});
    for (const auto& a : shown["artifacts"]) {
      if (a["stage"] == stage && a["name"] == name) return a["path"];
    }
    ADD_FAILURE() << "no artifact " << stage << "/" << name;
    return "";
  }

  TempDir dir_;
};

// Rows of a CSV file, split on commas (no quoted commas in these files).
std::vector<std::vector<std::string>> Rows(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream s(line);
    for (std::string cell; std::getline(s, cell, ',');) cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

TEST_F(ModelsTest, CreditRiskBundlesRegistersAndPredictsWhatTheEvaluationPredicted) {
  json run = SluiceJson({"run", kPipelines + "credit_risk.toml"});
  ASSERT_EQ(run["status"], "succeeded");
  EXPECT_GT(run["metrics"]["eval.roc_auc"].get<double>(), 0.7);
  for (const char* key : {"eval.pr_auc", "eval.calibration_error", "eval.latency_p95_ms", "eval.peak_memory_mb"}) {
    EXPECT_TRUE(run["metrics"].contains(key)) << key;
  }
  const std::string id = run["id"];

  json models = SluiceJson({"models", "list"});
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0]["name"], "credit-risk");
  EXPECT_EQ(models[0]["version"], 1);
  EXPECT_EQ(models[0]["run_id"], id);
  json shown = SluiceJson({"models", "show", "credit-risk:1"});
  const json& manifest = shown["manifest"];
  EXPECT_EQ(manifest["format"], "sluice-bundle");
  EXPECT_EQ(manifest["run_id"], id);
  EXPECT_EQ(manifest["class_names"], json::array({"good", "bad"}));
  EXPECT_EQ(manifest["model"]["plugin"], "mlp");
  EXPECT_DOUBLE_EQ(manifest["metrics"]["eval.roc_auc"].get<double>(), run["metrics"]["eval.roc_auc"].get<double>());
  for (const char* file : {"manifest.json", "model.pt", "preprocessing.json"}) {
    EXPECT_TRUE(fs::exists(fs::path(shown["path"].get<std::string>()) / file)) << file;
  }
  // SVG images among the run's artifacts.
  for (const auto& [stage, name] : std::vector<std::pair<std::string, std::string>>{{"eval", "roc_curve"},
                                                                                    {"eval", "confusion_matrix_image"},
                                                                                    {"eval", "reliability_diagram"},
                                                                                    {"train", "learning_curves"}}) {
    EXPECT_EQ(ReadFile(Artifact(id, stage, name)).rfind("<svg", 0), 0u) << name;
  }

  // The held-out rows, predicted by the registered model, equal the evaluation's own.
  const std::string rows = Artifact(id, "data", "test_rows");
  const std::string out = dir_ / "predictions.csv";
  json summary = SluiceJson({"predict", "credit-risk", "--input", rows, "--output", out});
  EXPECT_EQ(summary["rows"], 200);
  const auto predicted = Rows(out);
  const auto evaluated = Rows(Artifact(id, "eval", "predictions"));
  ASSERT_EQ(predicted.size(), evaluated.size());
  for (size_t i = 0; i < predicted.size(); ++i) {
    EXPECT_EQ(predicted[i][1], evaluated[i][2]) << "row " << i;  // pred
    EXPECT_EQ(std::vector<std::string>(predicted[i].begin() + 2, predicted[i].end()),
              std::vector<std::string>(evaluated[i].begin() + 3, evaluated[i].end()))
        << "row " << i;
  }

  // Aliases, and JSON rows on stdout.
  ProcessResult none = Sluice({"predict", "credit-risk@production", "--input", rows});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("model 'credit-risk' has no alias 'production'"), std::string::npos) << none.err;
  EXPECT_EQ(Sluice({"models", "promote", "credit-risk", "1", "--alias", "production"}).exit_code, 0);
  json as_rows = SluiceJson({"predict", "credit-risk@production", "--input", rows});
  ASSERT_EQ(as_rows.size(), 200u);
  EXPECT_EQ(as_rows[0]["label"], as_rows[0]["pred"] == 1 ? "bad" : "good");
  EXPECT_EQ(SluiceJson({"models", "list"})[0]["aliases"], json::array({"production"}));
  // ARFF input works as well as CSV: the original file, every row.
  json whole = SluiceJson({"predict", "credit-risk", "--input", "/usr/share/doc/weka/examples/credit-g.arff"});
  EXPECT_EQ(whole.size(), 1000u);
  // A bundle folder works as well as a name.
  EXPECT_EQ(Sluice({"predict", shown["path"], "--input", rows, "--output", dir_ / "again.csv"}).exit_code, 0);
  EXPECT_EQ(ReadFile(dir_ / "again.csv"), ReadFile(out));
}

TEST_F(ModelsTest, PredictRefusesInputAndBundlesThatDoNotFit) {
  json run = SluiceJson({"run", kPipelines + "credit_risk.toml", "--set", "train.epochs=2"});
  const std::string rows = Artifact(run["id"], "data", "test_rows");
  // Columns missing: all named at once.
  std::ifstream in(rows);
  std::string header, first;
  std::getline(in, header);
  std::getline(in, first);
  const std::string narrow = dir_.Write("narrow.csv", "duration,age,class\n6,67,good\n");
  ProcessResult missing = Sluice({"predict", "credit-risk", "--input", narrow});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find(narrow + ": the model reads columns this file lacks: 'checking_status', 'credit_history'"),
            std::string::npos)
      << missing.err;
  // A word where the model reads a number: the file and line.
  std::string row = first;
  const size_t comma = row.find(',');
  const std::string typo = dir_.Write("typo.csv", header + "\n" + first + "\n" + row.substr(0, comma) + ",six" +
                                                      row.substr(row.find(',', comma + 1)) + "\n");
  ProcessResult typed = Sluice({"predict", "credit-risk", "--input", typo});
  EXPECT_EQ(typed.exit_code, 1);
  EXPECT_NE(typed.err.find(typo + ":3: column 'duration': 'six' is not a number"), std::string::npos) << typed.err;

  // A bundle from a newer format, or made with another version of its model plugin.
  const fs::path bundle = SluiceJson({"models", "show", "credit-risk"})["path"].get<std::string>();
  fs::copy(bundle, dir_ / "future", fs::copy_options::recursive);
  json manifest = json::parse(ReadFile(dir_ / "future/manifest.json"));
  manifest["format_version"] = 7;
  dir_.Write("future/manifest.json", manifest.dump());
  ProcessResult future = Sluice({"predict", dir_ / "future", "--input", rows});
  EXPECT_EQ(future.exit_code, 1);
  EXPECT_NE(future.err.find("is bundle format 7 (written by sluice 0.1.0); this sluice reads format 1 and older"),
            std::string::npos)
      << future.err;
  manifest["format_version"] = 1;
  manifest["model"]["plugin_version"] = "0.0.9";
  dir_.Write("future/manifest.json", manifest.dump());
  ProcessResult old = Sluice({"predict", dir_ / "future", "--input", rows});
  EXPECT_EQ(old.exit_code, 1);
  EXPECT_NE(old.err.find("plugin mlp is version 0.2.0 here"), std::string::npos) << old.err;
  EXPECT_NE(old.err.find("used 0.0.9; the bundle needs the model plugin it was trained with"), std::string::npos)
      << old.err;
}

TEST_F(ModelsTest, AnInterruptedRunResumesToTheSameWeightsAsAnUninterruptedOne) {
  const std::vector<std::string> quick = {"--set", "data.limit=6000", "--set", "data.test_limit=1000",
                                          "--set", "train.epochs=4",  "--set", "pipeline.threads=1"};
  auto run_args = [&](std::vector<std::string> head) {
    head.insert(head.end(), quick.begin(), quick.end());
    return head;
  };
  json straight = SluiceJson(run_args({"run", kPipelines + "fashion_mnist_mlp.toml"}));
  ASSERT_EQ(straight["status"], "succeeded");

  Child child(run_args({SluiceBinary(), "run", kPipelines + "fashion_mnist_mlp.toml", "--json"}), Options());
  ASSERT_TRUE(child.WaitForLine([](const std::string& l) { return l.find("train: epoch 2/4:") != std::string::npos; }));
  child.Signal(SIGINT);
  ProcessResult stopped = child.Wait();
  ASSERT_EQ(stopped.exit_code, 130) << stopped.err;
  const std::string id = json::parse(stopped.out)["id"];

  ProcessResult resumed = Sluice({"run", "--resume", id.substr(0, 8), "--json"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("resuming after epoch"), std::string::npos) << resumed.err;
  json run = SluiceJson({"runs", "show", id});
  EXPECT_EQ(run["status"], "succeeded");
  auto digest = [&](const json& shown) {
    for (const auto& a : shown["artifacts"]) {
      if (a["stage"] == "train" && a["name"] == "model") return a["sha256"].get<std::string>();
    }
    return std::string();
  };
  EXPECT_EQ(digest(run), digest(SluiceJson({"runs", "show", straight["id"]})));
  // The loss series has every step once.
  EXPECT_EQ(SluiceJson({"runs", "metrics", id, "train.loss"}).size(), 4u * 43u);  // 5400 / 128 -> 43 steps

  ProcessResult again = Sluice({"run", "--resume", id});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("is succeeded; only interrupted, crashed or failed runs can be resumed"), std::string::npos);
}

TEST_F(ModelsTest, AModelStartsFromAnotherRunsWeights) {
  const std::vector<std::string> quick = {"--set", "data.limit=3000", "--set", "data.test_limit=500",
                                          "--set", "train.epochs=1"};
  std::vector<std::string> first = {"run", kPipelines + "fashion_mnist_mlp.toml"};
  first.insert(first.end(), quick.begin(), quick.end());
  json base = SluiceJson(first);
  auto with = [&](const std::string& init_from) {
    std::vector<std::string> args = first;
    args.insert(args.end(), {"--set", "model.init_from=" + init_from, "--set", "model.freeze=[\"layers.0\"]"});
    return Sluice(args);
  };
  const std::string base_id = base["id"];
  ProcessResult tuned = with(base_id.substr(0, 6));
  ASSERT_EQ(tuned.exit_code, 0) << tuned.err;
  EXPECT_NE(tuned.err.find("initialized 4 parameter tensors from run " + base_id + " (stage train); 2 frozen"),
            std::string::npos)
      << tuned.err;
  ProcessResult bad = with("ffffff");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("error: stage 'model': init_from: no run matches 'ffffff'"), std::string::npos) << bad.out;
}

TEST_F(ModelsTest, ARegressionPipelineReportsErrorsInTheTargetsUnits) {
  json run = SluiceJson({"run", kPipelines + "cpu_performance.toml"});
  ASSERT_EQ(run["status"], "succeeded");
  EXPECT_GT(run["metrics"]["eval.r2"].get<double>(), 0.7);
  // cpu.arff's performance runs from 6 to 1150: an RMSE in those units, not standardized.
  EXPECT_GT(run["metrics"]["eval.rmse"].get<double>(), 5.0);
  const std::string rows = Artifact(run["id"], "data", "test_rows");
  json predicted = SluiceJson({"predict", "cpu-performance", "--input", rows});
  std::vector<std::vector<std::string>> evaluated = Rows(Artifact(run["id"], "eval", "predictions"));
  ASSERT_EQ(predicted.size(), evaluated.size());
  for (size_t i = 0; i < evaluated.size(); ++i) {
    EXPECT_NEAR(predicted[i]["pred"].get<double>(), std::stod(evaluated[i][2]),
                1e-4 * std::abs(std::stod(evaluated[i][2])));
  }
}

TEST_F(ModelsTest, ACnnBundlePredictsIdxImagesAsItsEvaluationDid) {
  json run =
      SluiceJson({"run", kPipelines + "fashion_mnist_cnn.toml", "--set", "data.limit=2000", "--set", "train.epochs=1",
                  "--set", "train.warmup_steps=0", "--set", "model.channels=[8, 16]", "--set", "model.hidden=[32]"});
  ASSERT_EQ(run["status"], "succeeded");
  EXPECT_GT(run["metrics"]["eval.accuracy"].get<double>(), 0.4);  // chance is 0.1
  const std::string out = dir_ / "images.csv";
  ASSERT_EQ(Sluice({"predict", "fashion-mnist-cnn", "--input",
                    "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", "--output", out})
                .exit_code,
            0);
  const auto predicted = Rows(out);
  const auto evaluated = Rows(Artifact(run["id"], "eval", "predictions"));
  ASSERT_EQ(predicted.size(), 10000u);
  ASSERT_EQ(evaluated.size(), 10000u);
  for (size_t i = 0; i < predicted.size(); i += 97) EXPECT_EQ(predicted[i][1], evaluated[i][2]) << i;
}

}  // namespace
}  // namespace sluice::testing
