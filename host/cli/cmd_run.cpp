// sluice run FILE / sluice validate FILE
#include <malloc.h>

#include <cmath>
#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "exec/executor.hpp"
#include "exec/timings.hpp"
#include "json_output.hpp"
#include "options.hpp"
#include "pipeline/load.hpp"
#include "pipeline/stored.hpp"
#include "run_store.hpp"
#include "sweep/space.hpp"
#include "table.hpp"

namespace sluice::cli {

namespace {

json ErrorsJson(const pipeline::Diagnostics& diag) {
  json errors = json::array();
  for (const pipeline::Diagnostic& d : diag.Sorted()) {
    errors.push_back({{"file", d.loc.file}, {"line", d.loc.line}, {"column", d.loc.column}, {"message", d.message}});
  }
  return errors;
}

po::options_description PipelineOptions(const char* caption) {
  po::options_description options(caption);
  options.add_options()("help,h", "show this help")("file", po::value<std::string>(), "pipeline file (TOML)")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a parameter: STAGE.KEY=VALUE or pipeline.seed=N (VALUE is TOML); repeatable")(
      "json", po::bool_switch(), "print one JSON object on stdout");
  return options;
}

std::vector<std::string> Overrides(const po::variables_map& vm) {
  return vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
}

}  // namespace

pipeline::LoadedPipeline LoadChecked(const std::string& file, const std::vector<std::string>& overrides,
                                     const plugin::PluginRegistry& registry, std::optional<sweep::Sweep>* sweep_out) {
  pipeline::LoadedPipeline loaded = pipeline::LoadPipeline(file, overrides, registry);
  if (loaded.spec.sweep.present && !loaded.spec.stages.empty()) {
    std::optional<sweep::Sweep> sw = sweep::ResolveSweep(loaded.spec, registry, loaded.diagnostics);
    if (sweep_out) *sweep_out = std::move(sw);
  }
  if (!loaded.diagnostics.empty()) loaded.pipeline.reset();
  return loaded;
}

int ValidateCommand(const Args& args) {
  po::options_description options = PipelineOptions("sluice validate options");
  if (PrintHelpIfAsked(args, options, "usage: sluice validate FILE [--set STAGE.KEY=VALUE]... [--json]"))
    return kExitOk;
  po::variables_map vm = ParseOptions(args, options, {"file"});
  if (!vm.count("file")) throw po::error("the pipeline FILE is missing");
  const std::string file = vm["file"].as<std::string>();
  plugin::PluginRegistry registry;
  pipeline::LoadedPipeline loaded = LoadChecked(file, Overrides(vm), registry);
  const bool as_json = vm["json"].as<bool>();
  if (!loaded.pipeline) {
    std::cerr << loaded.RenderErrors();
    if (as_json)
      std::cout << Dump(json{{"file", file}, {"valid", false}, {"errors", ErrorsJson(loaded.diagnostics)}}) << "\n";
    return kExitUsage;
  }
  const pipeline::ResolvedPipeline& p = *loaded.pipeline;
  if (as_json) {
    json stages = json::array();
    for (const auto& s : p.stages) stages.push_back({{"name", s.name}, {"plugin", s.plugin->name}});
    json params = json::object();
    for (const auto& [k, v] : p.ParamsJson()) params[k] = json::parse(v);
    std::cout << Dump(json{
                     {"file", file}, {"valid", true}, {"pipeline", p.name}, {"stages", stages}, {"params", params}})
              << "\n";
    return kExitOk;
  }
  std::string order;
  for (const auto& s : p.stages) order += (order.empty() ? "" : " -> ") + s.name;
  std::cout << file << ": ok: pipeline '" << p.name << "', " << p.stages.size() << " stages: " << order << "\n";
  return kExitOk;
}

int RunCommand(const Args& args, const std::string& command_line) {
  po::options_description options = PipelineOptions("sluice run options");
  options.add_options()                                                                                            //
      ("store", po::value<std::string>()->default_value(""), "store folder (default $SLUICE_STORE or ./.sluice)")  //
      ("resume", po::value<std::string>(), "continue an interrupted, crashed or failed run (id or prefix)")        //
      ("quiet,q", po::bool_switch(), "no progress output on stderr");
  if (PrintHelpIfAsked(args, options,
                       "usage: sluice run FILE [--set STAGE.KEY=VALUE]... [--store DIR] [--json]\n"
                       "       sluice run --resume RUN [--store DIR] [--json]")) {
    return kExitOk;
  }
  po::variables_map vm = ParseOptions(args, options, {"file"});
  const bool as_json = vm["json"].as<bool>();
  const bool resume = vm.count("resume") > 0;
  if (resume && (vm.count("file") || vm.count("set"))) {
    throw po::error("--resume continues a run with its own pipeline and parameters; give no FILE or --set");
  }
  if (!resume && !vm.count("file")) throw po::error("the pipeline FILE is missing");

  plugin::PluginRegistry registry;
  std::unique_ptr<store::RunStore> store;
  std::optional<pipeline::ResolvedPipeline> resolved;
  exec::ExecuteOptions execute;
  if (resume) {
    store = store::RunStore::Open(StoreDir(vm["store"].as<std::string>()));
    store::RunRecord run = store->FindRun(vm["resume"].as<std::string>());
    if (run.status == store::RunStatus::kSucceeded || run.status == store::RunStatus::kRunning) {
      std::cerr << "sluice run: error: run " << run.id << " is " << store::Name(run.status)
                << (run.status == store::RunStatus::kRunning
                        ? " (pid " + std::to_string(run.pid) + " on " + run.host + ")"
                        : "")
                << "; only interrupted, crashed or failed runs can be resumed\n";
      return kExitFailed;
    }
    pipeline::Diagnostics diag;
    resolved = pipeline::LoadStoredPipeline(run.spec, "run " + run.id, registry,
                                            "resuming needs the plugin builds the run started with", diag);
    if (!resolved) {
      std::cerr << diag.Render(pipeline::SourceTexts()) << "sluice run: cannot resume run " << run.id << "\n";
      return kExitUsage;
    }
    execute.resume_run_id = run.id;
  } else {
    pipeline::LoadedPipeline loaded = LoadChecked(vm["file"].as<std::string>(), Overrides(vm), registry);
    if (!loaded.pipeline) {
      std::cerr << loaded.RenderErrors() << "sluice run: the pipeline is invalid; nothing was run\n";
      return kExitUsage;
    }
    resolved = std::move(loaded.pipeline);
    exec::MarkPhase("validated");
    store = store::RunStore::Open(StoreDir(vm["store"].as<std::string>()));
  }
  exec::MarkPhase("store_open");
  // Training allocates and frees the same batch-sized buffers every step. glibc hands
  // blocks above its mmap threshold (128 KiB until a large free happens to raise it)
  // straight to the kernel and back, so every step page-faults them in again (measured
  // here: a third of the CPU time in the kernel). Keep blocks up to 32 MiB in the heap,
  // whatever the history of the process.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  exec::ProgressView view(
      stderr, vm["quiet"].as<bool>() ? exec::ProgressView::Mode::kQuiet : exec::ProgressView::DetectMode(stderr));
  exec::RunOutcome outcome = exec::ExecutePipeline(*resolved, *store, view, command_line, execute);
  std::vector<store::LatestMetric> metrics = store->LatestMetrics(outcome.run_id);

  if (as_json) {
    json out = {{"id", outcome.run_id},
                {"pipeline", resolved->name},
                {"status", outcome.status},
                {"seconds", outcome.seconds},
                {"metrics", MetricsJson(metrics)}};
    out["error"] = outcome.error ? json(*outcome.error) : json(nullptr);
    std::cout << Dump(out) << "\n";
  } else {
    std::cout << "run " << outcome.run_id << " " << store::Name(outcome.status) << " in "
              << exec::FormatSeconds(outcome.seconds) << "\n";
    if (outcome.error) std::cout << "  error: " << *outcome.error << "\n";
    Table table({"", ""}, "  ");
    for (const auto& metric : metrics) table.Row({metric.key, HumanNumber(metric.value)});
    std::cout << table.Render();
  }
  if (outcome.status == store::RunStatus::kSucceeded) return kExitOk;
  return outcome.status == store::RunStatus::kInterrupted ? kExitInterrupted : kExitFailed;
}

}  // namespace sluice::cli
