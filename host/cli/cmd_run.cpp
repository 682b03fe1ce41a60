// sluice run FILE / sluice validate FILE
#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <thread>

#include "commands.hpp"
#include "exec/distributed.hpp"
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

// The pipeline a recorded run ran, for `--resume`; nullopt (the reason printed) when
// this build cannot run it again.
std::optional<pipeline::ResolvedPipeline> StoredRunPipeline(const store::RunRecord& run,
                                                            const plugin::PluginRegistry& registry) {
  pipeline::Diagnostics diag;
  std::optional<pipeline::ResolvedPipeline> resolved = pipeline::LoadStoredPipeline(
      run.spec, "run " + run.id, registry, "resuming needs the plugin builds the run started with", diag);
  if (!resolved)
    std::cerr << diag.Render(pipeline::SourceTexts()) << "sluice run: cannot resume run " << run.id << "\n";
  return resolved;
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
      ("quiet,q", po::bool_switch(), "no progress output on stderr")                                               //
      ("nproc", po::value<int>()->default_value(1), "data-parallel: ranks to start on this host")                  //
      ("nnodes", po::value<int>()->default_value(1), "data-parallel: hosts taking part, each with --nproc ranks")  //
      ("node-rank", po::value<int>()->default_value(0), "data-parallel: this host's index, 0 .. nnodes - 1")       //
      ("master", po::value<std::string>(),
       "data-parallel: ADDR:PORT of node 0, where rank 0 serves the rendezvous (needed with --nnodes > 1)")  //
      ("dist-timeout", po::value<double>()->default_value(300),
       "data-parallel: seconds a rank waits for the others in a collective before the run fails");
  if (PrintHelpIfAsked(args, options,
                       "usage: sluice run FILE [--set STAGE.KEY=VALUE]... [--store DIR] [--json]\n"
                       "       sluice run --resume RUN [--store DIR] [--json]\n"
                       "       sluice run FILE --nproc N [--nnodes M --node-rank R --master ADDR:PORT]")) {
    return kExitOk;
  }
  po::variables_map vm = ParseOptions(args, options, {"file"});
  const bool as_json = vm["json"].as<bool>();
  const bool resume = vm.count("resume") > 0;
  if (resume && (vm.count("file") || vm.count("set"))) {
    throw po::error("--resume continues a run with its own pipeline and parameters; give no FILE or --set");
  }
  if (!resume && !vm.count("file")) throw po::error("the pipeline FILE is missing");
  const int nproc = vm["nproc"].as<int>(), nnodes = vm["nnodes"].as<int>(), node_rank = vm["node-rank"].as<int>();
  if (nproc < 1 || nproc > 1024) throw po::error("--nproc must be from 1 to 1024");
  if (nnodes < 1 || nnodes > 4096) throw po::error("--nnodes must be from 1 to 4096");
  if (node_rank < 0 || node_rank >= nnodes) {
    throw po::error("--node-rank must be from 0 to " + std::to_string(nnodes - 1) + " (--nnodes " +
                    std::to_string(nnodes) + ")");
  }
  if (nnodes > 1 && !vm.count("master")) throw po::error("--nnodes > 1 needs --master ADDR:PORT (node 0's)");
  if (vm.count("master")) {
    try {
      exec::ParseMaster(vm["master"].as<std::string>());
    } catch (const std::invalid_argument& e) {
      throw po::error(e.what());
    }
  }
  if (vm["dist-timeout"].as<double>() <= 0) throw po::error("--dist-timeout must be positive");
  const std::optional<exec::RankInfo> rank = exec::RankFromEnvironment();
  const bool launcher = !rank && (nproc > 1 || nnodes > 1);
  const bool other_rank = rank && rank->rank > 0;

  plugin::PluginRegistry registry;
  std::unique_ptr<store::RunStore> store;
  std::optional<pipeline::ResolvedPipeline> resolved;
  exec::ExecuteOptions execute;
  if (other_rank) {
    // Another rank than 0: the pipeline as rank 0 runs it, executed into a scratch store.
    if (resume) {
      resolved = StoredRunPipeline(store::RunStore::OpenReadOnly(rank->main_store)->FindRun(rank->run_id), registry);
      if (!resolved) return kExitUsage;
      execute.checkpoints_resuming = true;
    } else {
      pipeline::LoadedPipeline loaded = LoadChecked(vm["file"].as<std::string>(), Overrides(vm), registry);
      if (!loaded.pipeline) {
        std::cerr << loaded.RenderErrors();
        return kExitUsage;
      }
      resolved = std::move(loaded.pipeline);
    }
    store = store::RunStore::Open(rank->store);
    execute.checkpoint_root = std::filesystem::path(rank->main_dir) / "checkpoints" / rank->run_id;
  } else if (resume) {
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
    resolved = StoredRunPipeline(run, registry);
    if (!resolved) return kExitUsage;
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

  if (launcher) {
    // Checked and recorded nowhere yet: the ranks run it, rank 0 records it.
    exec::LaunchOptions launch;
    launch.nproc = nproc;
    launch.nnodes = nnodes;
    launch.node_rank = node_rank;
    if (vm.count("master")) launch.master = vm["master"].as<std::string>();
    launch.timeout_seconds = vm["dist-timeout"].as<double>();
    // What --store takes: the folder, or a PostgreSQL store's URL.
    launch.store = store::Database::IsUrl(store->location()) ? store->location() : store->dir().string();
    launch.store_dir = store->dir();
    launch.run_id = execute.resume_run_id.value_or(store::NewRunId());
    launch.args = args;
    if (resume) {  // every rank resumes the id found here (the argument may be a prefix)
      for (size_t i = 0; i < launch.args.size(); ++i) {
        if (launch.args[i] == "--resume" && i + 1 < launch.args.size())
          launch.args[i + 1] = launch.run_id;
        else if (launch.args[i].rfind("--resume=", 0) == 0)
          launch.args[i] = "--resume=" + launch.run_id;
      }
    }
    const bool has_store = std::any_of(launch.args.begin(), launch.args.end(), [](const std::string& a) {
      return a == "--store" || a.rfind("--store=", 0) == 0;
    });
    if (!has_store) launch.args.insert(launch.args.end(), {"--store", launch.store});
    store.reset();
    return exec::LaunchRanks(launch);
  }
  exec::HostDistributed distributed(rank.value_or(exec::RankInfo{}));
  if (rank) {
    if (!resume) execute.run_id = rank->run_id;
    execute.data_parallel = true;
    execute.default_threads =
        std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / std::max(1, rank->local_world_size));
    execute.extra_services = [&distributed](std::string_view name, uint32_t version) -> void* {
      if (name == DistributedV1::kName && version == DistributedV1::kVersion) {
        return static_cast<DistributedV1*>(&distributed);
      }
      return nullptr;
    };
    if (rank->rank == 0) {
      execute.on_recorded = [&](const std::string& id) {
        store->SetEnvironment(id, {{"world_size", std::to_string(rank->world_size)},
                                   {"ranks_per_node", std::to_string(rank->local_world_size)}});
      };
    }
  }
  exec::MarkPhase("store_open");
  // Training allocates and frees the same batch-sized buffers every step. glibc hands
  // blocks above its mmap threshold (128 KiB until a large free happens to raise it)
  // straight to the kernel and back, so every step page-faults them in again (measured
  // here: a third of the CPU time in the kernel). Keep blocks up to 32 MiB in the heap,
  // whatever the history of the process.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  exec::ProgressView view(stderr, vm["quiet"].as<bool>() || other_rank ? exec::ProgressView::Mode::kQuiet
                                                                       : exec::ProgressView::DetectMode(stderr));
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
    // Why it failed goes where errors go, so that `--quiet` or a redirected stdout still
    // shows it (the progress shows it too, as the stage's end).
    if (outcome.error) std::cerr << "sluice run: error: " << *outcome.error << "\n";
    Table table({"", ""}, "  ");
    for (const auto& metric : metrics) table.Row({metric.key, HumanNumber(metric.value)});
    std::cout << table.Render();
  }
  if (outcome.status == store::RunStatus::kSucceeded) return kExitOk;
  return outcome.status == store::RunStatus::kInterrupted ? kExitInterrupted : kExitFailed;
}

}  // namespace sluice::cli
