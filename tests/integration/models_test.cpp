// Tables to bundles to predictions, as a user drives them: the credit-risk pipeline,
// the registry, `sluice predict` (equal to the evaluation's own predictions), refusals,
// resuming an interrupted run, fine-tuning from a run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "data_files.hpp"
#include "process.hpp"
#include "store_cli_test.hpp"
#include "temp_dir.hpp"

namespace sluice::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::string kPipelines = std::string(SLUICE_TEST_SOURCE_DIR) + "/../pipelines/";

class ModelsTest : public StoreCliTest {
 protected:
  std::string Artifact(const std::string& run, const std::string& stage, const std::string& name) {
    const json shown = SluiceJson({"runs", "show", run});
    for (const auto& a : shown["artifacts"]) {
      if (a["stage"] == stage && a["name"] == name) return a["path"];
    }
    ADD_FAILURE() << "no artifact " << stage << "/" << name;
    return "";
  }
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
  EXPECT_EQ(none.exit_code, 1) << none.err;
  EXPECT_NE(none.err.find("model 'credit-risk' has no alias 'production'"), std::string::npos) << none.err;
  const ProcessResult promoted = Sluice({"models", "promote", "credit-risk", "1", "--alias", "production"});
  EXPECT_EQ(promoted.exit_code, 0) << promoted.err;
  json as_rows = SluiceJson({"predict", "credit-risk@production", "--input", rows});
  ASSERT_EQ(as_rows.size(), 200u);
  EXPECT_EQ(as_rows[0]["label"], as_rows[0]["pred"] == 1 ? "bad" : "good");
  EXPECT_EQ(SluiceJson({"models", "list"})[0]["aliases"], json::array({"production"}));
  // ARFF input works as well as CSV: the original file, every row.
  json whole = SluiceJson({"predict", "credit-risk", "--input", WekaExample("credit-g.arff")});
  EXPECT_EQ(whole.size(), 1000u);
  // A bundle folder works as well as a name.
  const ProcessResult by_path = Sluice({"predict", shown["path"], "--input", rows, "--output", dir_ / "again.csv"});
  EXPECT_EQ(by_path.exit_code, 0) << by_path.err;
  EXPECT_EQ(ReadFile(dir_ / "again.csv"), ReadFile(out));

  // The same rows as TSV, and as JSON Lines (numbers as numbers, the rest as strings, the
  // keys of each object in another order): the same numbers.
  std::ifstream csv(rows);
  std::string header_line;
  std::getline(csv, header_line);
  std::vector<std::string> header;
  std::stringstream split(header_line);
  for (std::string name; std::getline(split, name, ',');) header.push_back(name);
  std::string tsv = header_line, jsonl;
  std::replace(tsv.begin(), tsv.end(), ',', '\t');
  for (const auto& cells : Rows(rows)) {
    std::string line;
    json object = json::object();
    for (size_t c = cells.size(); c-- > 0;) {
      line = cells[c] + (c + 1 < cells.size() ? "\t" + line : "");
      char* end = nullptr;
      const double number = std::strtod(cells[c].c_str(), &end);
      object[header[c]] = *end == 0 && !cells[c].empty() ? json(number) : json(cells[c]);
    }
    tsv += "\n" + line;
    jsonl += object.dump() + "\n";
  }
  for (const std::string name : {"rows.tsv", "rows.jsonl"}) {
    const std::string input = dir_.Write(name, name == "rows.tsv" ? tsv : jsonl);
    const ProcessResult other =
        Sluice({"predict", "credit-risk", "--input", input, "--output", dir_ / (name + ".out")});
    EXPECT_EQ(other.exit_code, 0) << name << ": " << other.err;
    EXPECT_EQ(ReadFile(dir_ / (name + ".out")), ReadFile(out)) << name;
  }
  // Columns the model does not read are named on stderr, each cut short, and the list too.
  std::string wide = header_line + "," + std::string(100000, 'x');
  for (int c = 0; c < 500; ++c) wide += ",extra_column_" + std::to_string(c);
  std::ifstream again(rows);
  std::getline(again, header_line);
  for (std::string line; std::getline(again, line);) {
    wide += "\n" + line + ",1";
    for (int c = 0; c < 500; ++c) wide += ",0";
  }
  const ProcessResult extra =
      Sluice({"predict", "credit-risk", "--input", dir_.Write("wide.csv", wide), "--output", dir_ / "wide.out"});
  EXPECT_EQ(extra.exit_code, 0) << extra.err.substr(0, 2000);
  EXPECT_LT(extra.err.size(), 1000u) << extra.err.substr(0, 2000);
  EXPECT_NE(extra.err.find("ignoring columns the model does not read: '" + std::string(40, 'x') +
                           "... (100000 bytes)', "
                           "'extra_column_0', 'extra_column_1'"),
            std::string::npos)
      << extra.err.substr(0, 2000);
  EXPECT_EQ(ReadFile(dir_ / "wide.out"), ReadFile(out));
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
  EXPECT_EQ(missing.exit_code, 1) << missing.err;
  EXPECT_NE(missing.err.find(narrow + ": the model reads columns this file lacks: 'checking_status', 'credit_history'"),
            std::string::npos)
      << missing.err;
  // A word where the model reads a number: the file and line.
  std::string row = first;
  const size_t comma = row.find(',');
  const std::string typo = dir_.Write("typo.csv", header + "\n" + first + "\n" + row.substr(0, comma) + ",six" +
                                                      row.substr(row.find(',', comma + 1)) + "\n");
  ProcessResult typed = Sluice({"predict", "credit-risk", "--input", typo});
  EXPECT_EQ(typed.exit_code, 1) << typed.err;
  EXPECT_NE(typed.err.find(typo + ":3: column 'duration': 'six' is not a finite number"), std::string::npos)
      << typed.err;

  // A bundle from a newer format, or made with another version of its model plugin.
  const fs::path bundle = SluiceJson({"models", "show", "credit-risk"})["path"].get<std::string>();
  fs::copy(bundle, dir_ / "future", fs::copy_options::recursive);
  json manifest = json::parse(ReadFile(dir_ / "future/manifest.json"));
  manifest["format_version"] = 7;
  manifest["sluice"] = "7.0.0";
  dir_.Write("future/manifest.json", manifest.dump());
  ProcessResult future = Sluice({"predict", dir_ / "future", "--input", rows});
  EXPECT_EQ(future.exit_code, 1) << future.err;
  EXPECT_NE(future.err.find("is bundle format 7 (written by sluice 7.0.0); this sluice reads format 2 and older"),
            std::string::npos)
      << future.err;
  manifest["format_version"] = 1;
  manifest["model"]["plugin_version"] = "0.0.9";
  dir_.Write("future/manifest.json", manifest.dump());
  ProcessResult old = Sluice({"predict", dir_ / "future", "--input", rows});
  EXPECT_EQ(old.exit_code, 1) << old.err;
  EXPECT_NE(old.err.find("plugin mlp is version 0.2.0 here"), std::string::npos) << old.err;
  EXPECT_NE(old.err.find("used 0.0.9; the bundle needs the model plugin it was trained with"), std::string::npos)
      << old.err;
}

// `predict --output` once wrote over the store's database, a registered bundle's manifest
// and its own input, and exited 0.
TEST_F(ModelsTest, PredictNeverWritesIntoAStoreOverItsInputOrOverAFileUnlessForced) {
  json run = SluiceJson({"run", kPipelines + "credit_risk.toml", "--set", "train.epochs=2"});
  ASSERT_EQ(run["status"], "succeeded");
  const std::string input = dir_.Write("rows.csv", ReadFile(Artifact(run["id"], "data", "test_rows")));
  const std::string bundle = SluiceJson({"models", "show", "credit-risk"})["path"];
  fs::copy(bundle, dir_ / "exported", fs::copy_options::recursive);
  fs::create_symlink(dir_ / "store/runs.db", dir_ / "link.csv");
  const std::string database = ReadFile(dir_ / "store/runs.db");
  const std::string manifest = ReadFile(bundle + "/manifest.json");
  struct Case {
    std::string model, output;
    std::vector<std::string> extra;
    std::string error;
  } cases[] = {
      {"credit-risk", dir_ / "store/runs.db", {"--force"}, " is inside the Sluice store " + dir_ / "store"},
      {"credit-risk", bundle + "/manifest.json", {"--force"}, " is inside the Sluice store " + dir_ / "store"},
      {"credit-risk", dir_ / "link.csv", {"--force"}, " is inside the Sluice store " + dir_ / "store"},
      {dir_ / "exported", dir_ / "exported/model.pt", {"--force"}, " is inside the bundle " + dir_ / "exported"},
      {"credit-risk", input, {"--force"}, " is the --input file; write the predictions elsewhere"},
      {"credit-risk", dir_ / "rows.csv", {}, " is the --input file"},
      {"credit-risk", dir_ / "nowhere/out.csv", {}, ": the folder " + dir_ / "nowhere" + " does not exist"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.output);
    std::vector<std::string> args = {"predict", c.model, "--input", input, "--output", c.output};
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    ProcessResult r = Sluice(args);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("--output " + c.output + c.error), std::string::npos) << r.err;
  }
  EXPECT_EQ(ReadFile(dir_ / "store/runs.db"), database);
  EXPECT_EQ(ReadFile(bundle + "/manifest.json"), manifest);
  EXPECT_EQ(ReadFile(dir_ / "rows.csv"), ReadFile(Artifact(run["id"], "data", "test_rows")));

  const std::string existing = dir_.Write("scores.csv", "keep me\n");
  ProcessResult kept = Sluice({"predict", "credit-risk", "--input", input, "--output", existing});
  EXPECT_EQ(kept.exit_code, 1) << kept.err;
  EXPECT_NE(kept.err.find("--output " + existing + " exists; pass --force to replace it"), std::string::npos)
      << kept.err;
  EXPECT_EQ(ReadFile(existing), "keep me\n");
  // The temporary file of a prediction into scores.csv whose process was killed (this
  // child's pid: it has exited) goes with the next prediction there; one of a live
  // process (this one), and one of another output, stay.
  const pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  const std::string killed = dir_.Write(".scores.csv.sluice-" + std::to_string(child) + ".partial", "index,pr");
  const std::string live = dir_.Write(".scores.csv.sluice-" + std::to_string(getpid()) + ".partial", "index");
  const std::string other = dir_.Write(".other.csv.sluice-" + std::to_string(child) + ".partial", "index");
  ProcessResult forced = Sluice({"predict", "credit-risk", "--input", input, "--output", existing, "--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(ReadFile(existing).rfind("index,pred,p_0,p_1\n", 0), 0u);
  EXPECT_FALSE(fs::exists(killed)) << "a killed prediction's temporary file was left";
  EXPECT_TRUE(fs::exists(live)) << "a live process's temporary file was removed";
  EXPECT_TRUE(fs::exists(other)) << "another output's temporary file was removed";
  fs::remove(live);
  fs::remove(other);
  // Predictions to stdout go through the temporary folder, where a killed one's file is
  // found the same way.
  const fs::path tmp = dir_ / "tmp";
  fs::create_directories(tmp);
  dir_.Write("tmp/.sluice-predict.csv.sluice-" + std::to_string(child) + ".partial", "index,pr");
  ProcessOptions with_tmp = Options();
  with_tmp.env["TMPDIR"] = tmp.string();
  ProcessResult printed = RunProcess({SluiceBinary(), "predict", "credit-risk", "--input", input}, with_tmp);
  EXPECT_EQ(printed.exit_code, 0) << printed.err;
  EXPECT_EQ(printed.out.rfind("index,pred,p_0,p_1\n", 0), 0u);
  EXPECT_TRUE(fs::is_empty(tmp)) << "a temporary file was left in " << tmp;
  // A full disk (a file-size limit here) stops the predictions with the reason, and
  // leaves neither the output nor its temporary file.
  // (Reading the store needs its 32 KB -shm file: the limit is above it, and the output
  // well beyond: 40 copies of the rows, about 300 KB.)
  const std::string full = dir_ / "full.csv";
  const std::string rows = ReadFile(input);
  std::string many = rows;
  for (int i = 0; i < 40; ++i) many += rows.substr(rows.find('\n') + 1);
  const std::string many_rows = dir_.Write("many.csv", many);
  ProcessResult limited = RunProcess({"/bin/sh", "-c",
                                      "trap '' XFSZ; exec prlimit --fsize=40000 " + SluiceBinary() +
                                          " predict credit-risk --input " + many_rows + " --output " + full},
                                     Options());
  EXPECT_EQ(limited.exit_code, 1) << limited.err;
  EXPECT_NE(limited.err.find(".full.csv.sluice-"), std::string::npos) << limited.err;
  EXPECT_NE(limited.err.find(".partial: cannot write: File too large"), std::string::npos) << limited.err;
  EXPECT_FALSE(fs::exists(full));
  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    EXPECT_EQ(entry.path().string().find(".partial"), std::string::npos) << "left behind: " << entry.path();
  }
}

// Edited or deleted files of a model were used silently, or failed with LibTorch's stack
// traces; each is now named, against the digest recorded when it was written.
TEST_F(ModelsTest, PredictAndInitFromVerifyWhatTheStoreRecorded) {
  json run = SluiceJson({"run", kPipelines + "credit_risk.toml", "--set", "train.epochs=2"});
  ASSERT_EQ(run["status"], "succeeded");
  const std::string id = run["id"];
  const std::string rows = Artifact(id, "data", "test_rows");
  const std::string bundle = SluiceJson({"models", "show", "credit-risk"})["path"];
  auto overwrite = [](const std::string& path, const std::string& text) {
    fs::permissions(path, fs::perms::owner_write, fs::perm_options::add);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  };
  const std::string preprocessing = ReadFile(bundle + "/preprocessing.json");
  overwrite(bundle + "/preprocessing.json", preprocessing + " ");
  ProcessResult edited = Sluice({"predict", "credit-risk", "--input", rows});
  EXPECT_EQ(edited.exit_code, 1) << edited.err;
  EXPECT_NE(edited.err.find("preprocessing.json of model credit-risk v1 was changed after it was recorded (" + bundle +
                            "/preprocessing.json: SHA-256 "),
            std::string::npos)
      << edited.err;
  overwrite(bundle + "/preprocessing.json", preprocessing);
  EXPECT_EQ(Sluice({"predict", "credit-risk", "--input", rows}).exit_code, 0);

  const std::string weights = ReadFile(bundle + "/model.pt");
  fs::remove(bundle + "/model.pt");
  ProcessResult deleted = Sluice({"predict", "credit-risk", "--input", rows});
  EXPECT_EQ(deleted.exit_code, 1) << deleted.err;
  EXPECT_NE(deleted.err.find("model.pt of model credit-risk v1 is missing (" + bundle + "/model.pt)"),
            std::string::npos)
      << deleted.err;

  // A bundle of format 1 lists no digests: a damaged model.pt is still named, in words.
  fs::copy(bundle, dir_ / "old", fs::copy_options::recursive);
  json manifest = json::parse(ReadFile(dir_ / "old/manifest.json"));
  manifest["format_version"] = 1;
  manifest["files"] = json::array({"manifest.json", "model.pt", "preprocessing.json"});
  dir_.Write("old/manifest.json", manifest.dump());
  dir_.Write("old/model.pt", weights.substr(0, weights.size() / 2));
  ProcessResult damaged = Sluice({"predict", dir_ / "old", "--input", rows});
  EXPECT_EQ(damaged.exit_code, 1) << damaged.err;
  EXPECT_NE(damaged.err.find("cannot read the weights of the model: " + dir_ / "old/model.pt" +
                             " is not a LibTorch archive (damaged or truncated?)"),
            std::string::npos)
      << damaged.err;
  EXPECT_EQ(damaged.err.find("frame #"), std::string::npos) << damaged.err;

  // Fine-tuning from a run whose weights were edited.
  const std::string trained = Artifact(id, "train", "model");
  overwrite(trained, weights.substr(0, weights.size() - 1) + "!");
  ProcessResult tuned = Sluice({"run", kPipelines + "credit_risk.toml", "--set", "train.epochs=1", "--set",
                                "model.init_from=" + id.substr(0, 8)});
  EXPECT_EQ(tuned.exit_code, 1) << tuned.err;
  EXPECT_NE(tuned.err.find("init_from: artifact train/model of run " + id + " was changed after it was recorded"),
            std::string::npos)
      << tuned.err;

  // `runs show` says which artifacts changed (the trainer's weights and the bundle's copy
  // are one file, stored once by content); `store check` lists every problem.
  json shown = SluiceJson({"runs", "show", id});
  for (const auto& a : shown["artifacts"]) {
    EXPECT_EQ(a["state"], a["path"] == trained ? "changed" : "ok") << a.dump();
  }
  ProcessResult check = Sluice({"store", "check", "--json"});
  EXPECT_EQ(check.exit_code, 1) << check.err;
  json report = json::parse(check.out);
  EXPECT_EQ(report["ok"], false);
  std::vector<std::string> what;
  for (const auto& p : report["problems"]) what.push_back(p["what"]);
  EXPECT_EQ(what, (std::vector<std::string>{"run " + id + ": artifact train/model",
                                            "run " + id + ": artifact bundle/model.pt", "model credit-risk v1"}));
}

// A copied store used the original's bundle; a moved one looked for it where it was.
TEST_F(ModelsTest, AStoreCopiedElsewhereServesItsOwnModels) {
  json run = SluiceJson({"run", kPipelines + "credit_risk.toml", "--set", "train.epochs=2"});
  ASSERT_EQ(run["status"], "succeeded");
  const std::string rows = dir_.Write("rows.csv", ReadFile(Artifact(run["id"], "data", "test_rows")));
  ProcessResult before = Sluice({"predict", "credit-risk", "--input", rows});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  fs::copy(dir_ / "store", dir_ / "copy", fs::copy_options::recursive);
  fs::remove_all(dir_ / "store");
  ProcessResult after = Sluice({"predict", "credit-risk", "--input", rows, "--store", dir_ / "copy"});
  EXPECT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(after.out, before.out);
  ProcessResult check = Sluice({"store", "check", "--store", dir_ / "copy"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_FALSE(fs::exists(dir_ / "store")) << "reading the copy must not recreate the original";
}

// A 200 MB value in one ARFF row was quoted whole: on stderr, in the run's and the stage's
// error, and by `runs show`.
TEST_F(ModelsTest, AHugeValueInADataFileIsQuotedAsAShortExcerpt) {
  std::string arff = ReadFile(WekaExample("credit-g.arff"));
  const size_t data = arff.find("@data");
  const size_t row = arff.find('\n', arff.find('\n', data) + 1) + 1;        // the second data row
  arff.insert(row, "'no checking'," + std::string(20 << 20, '9') + "x\n");  // a 20 MB 'duration'
  const std::string file = dir_.Write("huge.arff", arff);
  ProcessResult r = Sluice({"run", kPipelines + "credit_risk.toml", "--set", "data.file=" + file});
  EXPECT_EQ(r.exit_code, 1) << r.err.substr(0, 2000);
  EXPECT_LT(r.err.size(), 4000u) << r.err.substr(0, 4000);
  const std::string line = std::to_string(std::count(arff.begin(), arff.begin() + row, '\n') + 1);
  EXPECT_NE(r.err.find(file + ":" + line + ": attribute 'duration': '" + std::string(40, '9') +
                       "... (20971521 bytes)' is not a finite number"),
            std::string::npos)
      << r.err.substr(0, 2000);
  const std::string id = SluiceJson({"runs", "list"})[0]["id"];
  ProcessResult shown = Sluice({"runs", "show", id});
  EXPECT_LT(shown.out.size(), 20000u);
  EXPECT_LT(fs::file_size(dir_ / "store/runs.db"), 4u << 20);
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
  EXPECT_EQ(again.exit_code, 1) << again.err;
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
  EXPECT_EQ(bad.exit_code, 1) << bad.err;
  EXPECT_NE(bad.err.find("sluice run: error: stage 'model': init_from: no run matches 'ffffff'"), std::string::npos)
      << bad.err;
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
  const ProcessResult predicted_run =
      Sluice({"predict", "fashion-mnist-cnn", "--input", FashionMnist("t10k-images-idx3-ubyte.gz"), "--output", out});
  ASSERT_EQ(predicted_run.exit_code, 0) << predicted_run.err;
  const auto predicted = Rows(out);
  const auto evaluated = Rows(Artifact(run["id"], "eval", "predictions"));
  ASSERT_EQ(predicted.size(), 10000u);
  ASSERT_EQ(evaluated.size(), 10000u);
  for (size_t i = 0; i < predicted.size(); i += 97) EXPECT_EQ(predicted[i][1], evaluated[i][2]) << i;
}

}  // namespace
}  // namespace sluice::testing
