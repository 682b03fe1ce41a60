// sluice predict MODEL --input FILE [--output FILE] [--text-column NAME] [--json]
//
// MODEL is a bundle folder or a registered model (NAME, NAME:VERSION, NAME@ALIAS). The
// bundle's model plugin rebuilds the architecture from the parameters in its manifest,
// then the predictor plugin loads the weights and applies the bundle's preprocessing to
// the input. Both run as a two-stage pipeline in a throwaway in-memory store.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bundles.hpp"
#include "commands.hpp"
#include "exec/executor.hpp"
#include "integrity.hpp"
#include "json_output.hpp"
#include "options.hpp"
#include "pipeline/builder.hpp"
#include "pipeline/stored.hpp"
#include "run_store.hpp"
#include "sluice/bundle.hpp"
#include "sluice/excerpt.hpp"

namespace sluice::cli {

namespace fs = std::filesystem;

namespace {

// The Sluice store `path` lies in (a folder holding runs.db, or a PostgreSQL store's
// artifact root, with its locks/), if any.
std::optional<fs::path> EnclosingStore(fs::path path) {
  std::error_code ec;
  for (path = fs::weakly_canonical(path, ec); !path.empty(); path = path.parent_path()) {
    if ((fs::exists(path / "runs.db", ec) || fs::is_directory(path / "locks", ec)) &&
        fs::is_directory(path / "artifacts", ec)) {
      return path;
    }
    if (path == path.root_path()) break;
  }
  return std::nullopt;
}

// The temporary file a prediction into `output` writes, renamed over it when complete.
fs::path PartialOutput(const fs::path& output, pid_t pid) {
  return output.parent_path() / ("." + output.filename().string() + ".sluice-" + std::to_string(pid) + ".partial");
}

// Removes the temporary files of earlier predictions into `output` whose process was
// killed before it could (SIGKILL, the OOM killer): hidden files beside the user's own.
void RemoveKilledPartials(const fs::path& output) {
  const std::string prefix = "." + output.filename().string() + ".sluice-", suffix = ".partial";
  std::error_code ec;
  std::vector<fs::path> dead;
  for (const fs::directory_entry& entry : fs::directory_iterator(output.parent_path(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) dead.push_back(entry.path());
  }
  for (const fs::path& path : dead) fs::remove(path, ec);
}

// Refuses an --output that would destroy something: a file inside a Sluice store (its
// database, an artifact, a registered bundle), the input itself, a file inside the
// bundle, or, without --force, any existing file.
void CheckOutput(const fs::path& output, const fs::path& input, const fs::path& bundle, bool force) {
  std::error_code ec;
  const std::string shown = output.string();
  if (fs::is_directory(output, ec)) throw store::StoreError("--output " + shown + " is a directory");
  const fs::path parent = output.parent_path();
  if (!fs::is_directory(parent, ec)) {
    throw store::StoreError("--output " + shown + ": the folder " + parent.string() + " does not exist");
  }
  const fs::path target = fs::weakly_canonical(output, ec);  // through symbolic links
  if (fs::exists(target, ec) && fs::equivalent(target, input, ec)) {
    throw store::StoreError("--output " + shown + " is the --input file; write the predictions elsewhere");
  }
  for (const fs::path& place : {output, target}) {
    if (std::optional<fs::path> store = EnclosingStore(place.parent_path())) {
      throw store::StoreError("--output " + shown + " is inside the Sluice store " + store->string() +
                              "; sluice predict never writes there");
    }
    const fs::path relative = fs::weakly_canonical(place, ec).lexically_relative(fs::weakly_canonical(bundle, ec));
    if (!relative.empty() && *relative.begin() != "..") {
      throw store::StoreError("--output " + shown + " is inside the bundle " + bundle.string());
    }
  }
  if (!force && fs::exists(fs::symlink_status(output, ec))) {
    throw store::StoreError("--output " + shown + " exists; pass --force to replace it");
  }
}

}  // namespace

int PredictCommand(const Args& args) {
  po::options_description options("sluice predict options");
  options.add_options()                                                                                      //
      ("help,h", "show this help")                                                                           //
      ("model", po::value<std::string>(), "bundle folder, or NAME[:VERSION|@ALIAS] in the store")            //
      ("input", po::value<std::string>(), "rows to predict: .csv, .tsv, .jsonl, .arff or IDX images")        //
      ("output", po::value<std::string>(), "write index,pred,p_0.. rows here (default: stdout)")             //
      ("json", po::bool_switch(), "JSON on stdout")                                                          //
      ("force", po::bool_switch(), "replace --output if it exists")                                          //
      ("encoding", po::value<std::string>()->default_value("utf-8"), "CSV/ARFF input: utf-8 or latin-1")     //
      ("text-column", po::value<std::string>()->default_value(""), "text models: the column with the text")  //
      ("device", po::value<std::string>()->default_value("cpu"), "cpu, cuda or cuda:N")                      //
      ("batch-size", po::value<int64_t>()->default_value(1024), "rows per inference batch")                  //
      ("precision", po::value<std::string>()->default_value("fp32"),
       "fp32, or bf16: matrix products and convolutions in bfloat16 (faster on CPUs with AVX-512 BF16)")  //
      ("store", po::value<std::string>()->default_value(""), "store folder (for registered models)");
  if (PrintHelpIfAsked(args, options, "usage: sluice predict MODEL --input FILE [--output FILE [--force]] [--json]")) {
    return kExitOk;
  }
  po::variables_map vm = ParseOptions(args, options, {"model"});
  if (!vm.count("model")) throw po::error("the MODEL to predict with is missing");
  if (!vm.count("input")) throw po::error("--input FILE is required");
  for (const char* flag : {"model", "input", "output"}) {
    if (vm.count(flag) && FirstInvalidUtf8(vm[flag].as<std::string>()) != std::string_view::npos) {
      throw po::error(std::string(flag == std::string("model") ? "MODEL" : std::string("--") + flag) + " '" +
                      Excerpt(vm[flag].as<std::string>(), 200) +
                      "' is not UTF-8; rename the file (or use a link with a UTF-8 name)");
    }
  }
  const bool as_json = vm["json"].as<bool>();

  std::string label;
  const fs::path bundle =
      fs::absolute(ResolveBundle(vm["model"].as<std::string>(), StoreDir(vm["store"].as<std::string>()), label));
  json manifest;
  try {
    manifest = ReadManifest(bundle, label);
  } catch (const NewerBundleFormat& e) {
    std::cerr << "sluice predict: error: " << e.what() << "\n";
    return kExitFailed;
  }

  plugin::PluginRegistry registry;
  const fs::path input = fs::absolute(vm["input"].as<std::string>()).lexically_normal();
  const bool to_stdout = !vm.count("output");
  // The predictor writes a temporary file beside the output, renamed over it once
  // complete: an interrupted or failed prediction leaves the output as it was.
  fs::path final_output;
  std::string output;
  if (to_stdout) {
    // Through a temporary file named as one beside an --output would be, so that those of
    // killed predictions are found and removed the same way.
    const fs::path named = fs::temp_directory_path() / "sluice-predict.csv";
    RemoveKilledPartials(named);
    output = PartialOutput(named, getpid()).string();
  } else {
    final_output = fs::absolute(vm["output"].as<std::string>()).lexically_normal();
    CheckOutput(final_output, input, bundle, vm["force"].as<bool>());
    RemoveKilledPartials(final_output);
    output = PartialOutput(final_output, getpid()).string();
  }
  struct RemoveOnExit {
    std::string path;
    ~RemoveOnExit() {
      std::error_code ignored;
      if (!path.empty()) fs::remove(path, ignored);
    }
  } temporary{output};
  // The two stages: the bundle's model plugin, run again with its recorded parameters
  // and version, then the predictor.
  pipeline::PipelineBuilder b = BundlePipeline("predict", manifest, label);
  b.Stage("predict", "predictor")
      .Input("model", "model.model")
      .Param("bundle", Value(bundle.string()))
      .Param("input", Value(input.string()))
      .Param("output", Value(output))
      .Param("device", Value(vm["device"].as<std::string>()))
      .Param("batch_size", Value(vm["batch-size"].as<int64_t>()))
      .Param("precision", Value(vm["precision"].as<std::string>()))
      .Param("encoding", Value(vm["encoding"].as<std::string>()))
      .Param("text_column", Value(vm["text-column"].as<std::string>()));
  pipeline::Diagnostics diag;
  std::optional<pipeline::ResolvedPipeline> resolved = b.Validate(
      registry, "the bundle needs the model plugin it was trained with (install that version, or retrain)", diag);
  if (!resolved) {
    std::cerr << diag.Render(pipeline::SourceTexts()) << "sluice predict: " << label << " cannot be used here\n";
    return kExitFailed;
  }
  std::unique_ptr<store::RunStore> store = store::RunStore::OpenInMemory();
  exec::ProgressView view(stderr, exec::ProgressView::Mode::kMessages);
  exec::RunOutcome outcome = exec::ExecutePipeline(*resolved, *store, view, "sluice predict");
  if (outcome.status != store::RunStatus::kSucceeded) {
    std::cerr << "sluice predict: error: " << outcome.error.value_or(store::Name(outcome.status)) << "\n";
    return outcome.status == store::RunStatus::kInterrupted ? kExitInterrupted : kExitFailed;
  }
  if (!to_stdout) {
    std::error_code ec;
    fs::rename(output, final_output, ec);
    if (ec) throw store::StoreError("cannot write " + final_output.string() + ": " + ec.message());
    temporary.path.clear();
    output = final_output.string();
  }
  std::map<std::string, double> metrics;
  for (const auto& m : store->LatestMetrics(outcome.run_id)) metrics[m.key] = m.value;

  if (to_stdout && !as_json) {
    std::ifstream in(output);
    std::cout << in.rdbuf();
    return kExitOk;
  }
  if (to_stdout) {
    // JSON rows: {"index": i, "pred": ..., "probabilities": [...]}.
    std::ifstream in(output);
    std::string line;
    std::getline(in, line);
    json rows = json::array();
    while (std::getline(in, line)) {
      std::stringstream fields(line);
      std::string cell;
      std::vector<double> values;
      while (std::getline(fields, cell, ',')) values.push_back(std::stod(cell));
      json row = {{"index", static_cast<int64_t>(values[0])}};
      if (manifest.value("task", "") == "embedding") {
        row["embedding"] = std::vector<double>(values.begin() + 1, values.end());
      } else if (manifest.value("task", "") == "regression") {
        row["pred"] = values[1];
      } else {
        row["pred"] = static_cast<int64_t>(values[1]);
        const auto& names = manifest.at("class_names");
        if (values[1] < static_cast<double>(names.size())) row["label"] = names.at(static_cast<size_t>(values[1]));
        row["probabilities"] = std::vector<double>(values.begin() + 2, values.end());
      }
      rows.push_back(std::move(row));
    }
    std::cout << Dump(rows, -1) << "\n";
    return kExitOk;
  }
  const double n = metrics.count("predict.rows") ? metrics.at("predict.rows") : 0;
  if (as_json) {
    std::cout << Dump(json{{"model", label},
                           {"bundle", bundle.string()},
                           {"output", output},
                           {"rows", static_cast<int64_t>(n)},
                           {"seconds", outcome.seconds},
                           {"samples_per_sec", NumberOrNull(metrics.count("predict.samples_per_sec")
                                                                ? metrics.at("predict.samples_per_sec")
                                                                : NAN)}})
              << "\n";
  } else {
    std::cerr << "sluice predict: " << static_cast<int64_t>(n) << " rows with " << label << " -> " << output << "\n";
  }
  return kExitOk;
}

}  // namespace sluice::cli
