#include "executor.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "environment.hpp"
#include "interrupt.hpp"
#include "plugin/elf_section.hpp"
#include "plugin/loader.hpp"
#include "sluice/excerpt.hpp"
#include "stage_context.hpp"
#include "timings.hpp"

namespace sluice::exec {

namespace fs = std::filesystem;

namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

struct StageRun {
  const pipeline::ResolvedStage* stage;
  const SluicePluginInfo* info = nullptr;
  store::StageRecord record;
};

// How many stages still read each "stage.port" value, so it can be released after its
// last reader (a dataset does not outlive the evaluation that uses it).
std::map<std::string, int> CountReaders(const pipeline::ResolvedPipeline& p) {
  std::map<std::string, int> readers;
  for (const pipeline::ResolvedStage& s : p.stages) {
    for (const pipeline::ResolvedInput& in : s.inputs) ++readers[in.from_stage + "." + in.from_port];
  }
  return readers;
}

// While a run executes on a PostgreSQL store (shared by hosts, whose processes cannot see
// each other's locks), a thread records every HeartbeatSeconds() that the run is alive,
// through a connection of its own. A run whose heartbeats stop is taken for dead by the
// other hosts (RunStore::MarkSilentRuns). One thread serves all the runs of a process
// (a sweep runs hundreds in turn, --jobs several at once), started with the first.
class Heartbeats {
 public:
  static Heartbeats& Get() {
    // Never destroyed: at exit the thread may be waiting on a server, and nothing is left
    // to beat for.
    static auto* heartbeats = new Heartbeats();
    return *heartbeats;
  }
  void Add(const std::string& location, const std::string& run_id) {
    std::lock_guard<std::mutex> lock(mutex_);
    runs_[run_id] = location;
    if (!thread_.joinable()) thread_ = std::thread([this] { Beat(); });
  }
  void Remove(const std::string& run_id) {
    std::lock_guard<std::mutex> lock(mutex_);
    runs_.erase(run_id);
  }

 private:
  Heartbeats() = default;
  void Beat() {
    std::map<std::string, std::unique_ptr<store::Database>> connections;  // by store
    const auto interval = std::chrono::duration<double>(store::HeartbeatSeconds());
    for (;;) {
      std::this_thread::sleep_for(interval);
      std::map<std::string, std::string> runs;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        runs = runs_;  // a run may end meanwhile: the beat of a finished run changes nothing
      }
      for (const auto& [run_id, location] : runs) {
        try {
          std::unique_ptr<store::Database>& db = connections[location];
          if (!db) db = std::make_unique<store::Database>(location);
          store::WriteHeartbeat(*db, run_id);
        } catch (const std::exception&) {
          connections.erase(location);  // the server went away for a moment: connect again next time
        }
      }
    }
  }

  std::mutex mutex_;
  std::map<std::string, std::string> runs_;  // run id -> store
  std::thread thread_;
};

// A run's heartbeats, from its start to its end.
class Heartbeat {
 public:
  Heartbeat(const store::RunStore& store, const std::string& run_id) {
    if (store.in_memory() || !store::Database::IsUrl(store.location())) return;
    run_id_ = run_id;
    Heartbeats::Get().Add(store.location(), run_id);
  }
  ~Heartbeat() {
    if (!run_id_.empty()) Heartbeats::Get().Remove(run_id_);
  }
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

 private:
  std::string run_id_;
};

}  // namespace

RunOutcome ExecutePipeline(const pipeline::ResolvedPipeline& pipeline, store::RunStore& store, ProgressView& view,
                           const std::string& command_line, const ExecuteOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  RunOutcome outcome;
  const bool resuming = options.resume_run_id.has_value();
  outcome.run_id = resuming ? *options.resume_run_id : options.run_id.value_or(store::NewRunId());
  const std::string& run_id = outcome.run_id;

  // The lock exists before the run row, so no other process can see a running run
  // without a live owner.
  store::RunLock lock;
  if (!store.in_memory()) lock = store::RunLock(store.LockPath(run_id));

  store::RunRecord run;
  run.id = run_id;
  run.pipeline = pipeline.name;
  run.file = pipeline.file;
  run.status = store::RunStatus::kRunning;
  run.started_at = store::IsoTime(store::UnixNow());
  run.host = store::HostName();
  run.pid = getpid();
  run.command = command_line;
  run.spec = pipeline.ToJson();
  run.study_id = options.study_id;
  run.trial = options.trial;
  std::vector<StageRun> stages;
  int position = 0;
  for (const pipeline::ResolvedStage& s : pipeline.stages) {
    StageRun r{&s, nullptr, {}};
    r.record.name = s.name;
    r.record.position = position++;
    r.record.plugin = s.plugin->name;
    r.record.plugin_version = s.plugin->version;
    r.record.plugin_file = s.plugin->path;
    r.record.plugin_build = plugin::BuildId(s.plugin->path);  // read here, not on every scan
    r.record.status = store::StageStatus::kPending;
    stages.push_back(std::move(r));
  }
  // The host's environment, once known, goes out with the run's next write.
  std::optional<std::map<std::string, std::string>> unwritten_env;
  const auto write_env = [&] {
    if (unwritten_env) store.SetEnvironment(run_id, *unwritten_env);
  };
  const auto know_env = [&] {
    std::map<std::string, std::string> env = HostEnvironment();
    const int threads = static_cast<int>(pipeline.threads) > 0 ? static_cast<int>(pipeline.threads)
                        : options.default_threads > 0          ? options.default_threads
                                                               : static_cast<int>(HardwareThreads());
    AddTorchEnvironment(env, threads);
    unwritten_env = std::move(env);
  };
  // Where this process has loaded every plugin of the pipeline before (a sweep, from its
  // second trial), loading them again cannot fail or crash: they are loaded before the run
  // is recorded, and the run goes to the store with its environment and its first stage
  // started, one transaction where there would be two.
  bool resident = std::all_of(stages.begin(), stages.end(),
                              [](const StageRun& r) { return plugin::IsLoaded(r.stage->plugin->path); });
  for (StageRun& r : stages) {
    if (!resident) break;
    std::string error;
    r.info = plugin::LoadPlugin(*r.stage->plugin, error);
    resident = r.info != nullptr;  // a check failed: recorded as the failed load below
  }
  if (resident) {
    know_env();
    if (!stages.empty()) {
      stages[0].record.status = store::StageStatus::kRunning;
      stages[0].record.started_at = store::IsoTime(store::UnixNow());
    }
  }
  // The run and its stages (the first started, with the environment, where resident), in
  // one transaction.
  store.Together([&] {
    if (resuming) {
      store.ReopenRun(run_id, run.pid, run.host, command_line);
    } else {
      store.CreateRun(run, pipeline.ParamsJson());
    }
    for (const StageRun& r : stages) store.UpsertStage(run_id, r.record);
    write_env();
  });
  unwritten_env.reset();
  MarkPhase("recorded");
  Heartbeat heartbeat(store, run_id);
  if (options.on_recorded) options.on_recorded(run_id);
  if (!store.in_memory()) SetActiveRun(store.location(), run_id);
  view.Line(std::string("sluice: ") + (resuming ? "resuming run " : "run ") + run_id + " of " + pipeline.name + " (" +
            std::to_string(stages.size()) + " stages)");

  store::MetricWriter metrics(store, run_id);
  // The run's end in the store: the stages never started are skipped.
  const auto write_end = [&](store::RunStatus status, const std::optional<std::string>& error) {
    write_env();
    for (StageRun& r : stages) {
      // (skipped already: this transaction runs again, or one rolled back did)
      if (r.record.status != store::StageStatus::kPending && r.record.status != store::StageStatus::kSkipped) continue;
      r.record.status = store::StageStatus::kSkipped;
      store.UpsertStage(run_id, r.record);
    }
    store.FinishRun(run_id, status, error);
  };
  bool end_written = false;  // with the last stage's end
  auto finish = [&](store::RunStatus status, std::optional<std::string> error) {
    if (!end_written) store.Together([&] { write_end(status, error); });
    unwritten_env.reset();
    SetActiveRun("", "");
    std::error_code ec;
    if (!store.in_memory()) {
      fs::remove_all(store.dir() / "tmp" / run_id, ec);
      // Checkpoints serve `--resume`; a run that succeeded has nothing left to resume.
      if (status == store::RunStatus::kSucceeded) fs::remove_all(store.dir() / "checkpoints" / run_id, ec);
    }
    outcome.status = status;
    outcome.error = std::move(error);
    for (const auto& [key, latest] : metrics.Latest()) outcome.metrics[key] = latest.value;
    outcome.seconds = Seconds(started);
    return outcome;
  };

  // Load every plugin before running anything: a bad library fails the run up front.
  if (!resident) {
    for (StageRun& r : stages) {
      std::string error;
      r.info = plugin::LoadPlugin(*r.stage->plugin, error);
      if (!r.info) {
        r.record.status = store::StageStatus::kFailed;
        r.record.error = error;
        store.UpsertStage(run_id, r.record);
        return finish(store::RunStatus::kFailed, "stage '" + r.stage->name + "': " + error);
      }
    }
    know_env();
  }
  MarkPhase("plugins_loaded");

  PortValues values;
  std::map<std::string, int> readers = CountReaders(pipeline);
  int index = 0;
  for (StageRun& r : stages) {
    ++index;
    const pipeline::ResolvedStage& s = *r.stage;
    if (StopRequested()) {
      if (r.record.status == store::StageStatus::kRunning) r.record.status = store::StageStatus::kPending;  // never ran
      metrics.Flush();
      return finish(store::RunStatus::kInterrupted, "interrupted before stage '" + s.name + "'");
    }
    view.Line("[" + std::to_string(index) + "/" + std::to_string(stages.size()) + "] " + s.name + " (" +
              s.plugin->name + " " + s.plugin->version + ")");
    if (r.record.status != store::StageStatus::kRunning) {  // (the first, recorded started with the run)
      r.record.status = store::StageStatus::kRunning;
      r.record.started_at = store::IsoTime(store::UnixNow());
      store.Together([&] {
        write_env();
        store.UpsertStage(run_id, r.record);
      });
      unwritten_env.reset();
    }

    const auto stage_started = std::chrono::steady_clock::now();
    if (index == 1) {
      MarkPhase("first_stage");
      PrintPhases();
    }
    HostStageContext ctx(s, run_id, resuming || options.checkpoints_resuming, store, metrics, view, values);
    if (options.checkpoint_root) ctx.set_checkpoint_root(*options.checkpoint_root);
    if (options.prune_watch) ctx.set_prune_watch(&*options.prune_watch);
    if (options.extra_services) ctx.set_extra_services(&options.extra_services);
    SluiceStatus* c_status = r.info->run_stage(&ctx);  // never throws (SDK wrapper)
    Status status = Status::Ok();
    if (c_status) {
      // A plugin's message may quote a whole input: the terminal gets what the store
      // keeps, with room for the run's "stage 'NAME': " before it. One that passed on a
      // LibTorch error as it came loses the error's backtrace.
      status = Status(static_cast<Status::Code>(sluice_status_code(c_status)),
                      store::BoundedError(std::string(WithoutBacktrace(sluice_status_message(c_status))),
                                          store::RunStore::kMaxErrorBytes - 200));
      sluice_status_free(c_status);
    }
    if (ctx.host_error()) status = Status::IoError(*ctx.host_error());
    view.EndStage();
    if (status.ok()) {
      for (const PortSpec& out : s.plugin->contract.outputs()) {
        if (!values.count(s.name + "." + out.name) && readers.count(s.name + "." + out.name)) {
          status = Status::Internal("the plugin did not set its output '" + out.name + "'");
        }
      }
    }
    bool interrupted = false;
    bool pruned = false;
    // How the run ends, if it ends with this stage.
    std::optional<store::RunStatus> run_end;
    std::optional<std::string> run_error;
    const auto settle = [&] {
      interrupted = status.IsCancelled() && (StopRequested() || options.data_parallel);
      pruned = !status.ok() && !interrupted && ctx.pruned_at().has_value();
      r.record.status = status.ok()   ? store::StageStatus::kSucceeded
                        : interrupted ? store::StageStatus::kInterrupted
                        : pruned      ? store::StageStatus::kPruned
                                      : store::StageStatus::kFailed;
      if (!status.ok()) r.record.error = status.message();
      run_end.reset();
      run_error.reset();
      if (pruned) {
        run_end = store::RunStatus::kPruned;
        run_error = "stage '" + s.name + "': pruned at step " + std::to_string(*ctx.pruned_at());
      } else if (!status.ok()) {
        run_end = interrupted ? store::RunStatus::kInterrupted : store::RunStatus::kFailed;
        run_error = "stage '" + s.name + "': " + status.message();
      } else if (index == static_cast<int>(stages.size())) {
        run_end = store::RunStatus::kSucceeded;
      }
    };
    settle();
    // The stage's last points and its end, and the run's end if this is it, in one
    // transaction; a stage whose points could not be written has failed.
    try {
      r.record.seconds = Seconds(stage_started);
      r.record.ended_at = store::IsoTime(store::UnixNow());
      metrics.Flush([&] {
        store.UpsertStage(run_id, r.record);
        if (run_end) write_end(*run_end, run_error);
      });
      end_written = run_end.has_value();
    } catch (const std::exception& e) {
      if (status.ok()) status = Status::IoError(std::string("cannot write metrics to the store: ") + e.what());
      settle();
      store.UpsertStage(run_id, r.record);
    }
    view.Line("      " + s.name + " " + store::Name(r.record.status) + " in " + FormatSeconds(*r.record.seconds) +
              (status.ok() ? "" : ": " + status.message()));
    if (pruned) outcome.pruned_at = ctx.pruned_at();
    if (run_end) return finish(*run_end, run_error);
    // Release values no later stage reads.
    for (const pipeline::ResolvedInput& in : s.inputs) {
      if (--readers[in.from_stage + "." + in.from_port] == 0) values.erase(in.from_stage + "." + in.from_port);
    }
    for (auto it = values.begin(); it != values.end();) {
      it = readers[it->first] > 0 ? std::next(it) : values.erase(it);
    }
  }
  return finish(store::RunStatus::kSucceeded, std::nullopt);  // a pipeline of no stages
}

}  // namespace sluice::exec
