// Runs a validated pipeline and records it in the store.
#ifndef SLUICE_HOST_EXEC_EXECUTOR_HPP_
#define SLUICE_HOST_EXEC_EXECUTOR_HPP_

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "pipeline/resolved.hpp"
#include "progress.hpp"
#include "run_store.hpp"
#include "stage_context.hpp"

namespace sluice::exec {

struct RunOutcome {
  std::string run_id;
  store::RunStatus status = store::RunStatus::kRunning;  // succeeded | failed | interrupted | pruned
  std::optional<int64_t> pruned_at;                      // pruned: the step at which the watch stopped it
  std::optional<std::string> error;
  double seconds = 0;
  // The newest value of each metric the run logged, as RunStore::LatestMetrics would
  // read them back (a resumed run's earlier attempts not included).
  std::map<std::string, double> metrics;
};

struct ExecuteOptions {
  // Continue this interrupted, crashed or failed run instead of recording a new one:
  // stages run again and those that checkpoint pick up where they stopped.
  std::optional<std::string> resume_run_id;
  // A sweep's trial: recorded with the run, and watched for pruning.
  std::optional<std::string> study_id;
  std::optional<int64_t> trial;
  std::optional<PruneWatch> prune_watch;
  // Called once the run is recorded, before any stage runs.
  std::function<void(const std::string& run_id)> on_recorded;
  // Host services beyond this host's own (sluice/services.hpp), by name and version:
  // `sluice serve` offers serving v1 this way. Null when absent.
  std::function<void*(std::string_view name, uint32_t version)> extra_services;
  // A data-parallel rank: record the new run under this id (rank 0), or, with
  // `checkpoint_root`, read checkpoints from there (rank 0's, for the other ranks) and
  // tell stages they resume when `checkpoints_resuming`.
  std::optional<std::string> run_id;
  std::optional<std::filesystem::path> checkpoint_root;
  bool checkpoints_resuming = false;
  // A data-parallel rank: a stage that returns Cancelled stopped because some rank was
  // asked to stop (the ranks agree on stopping; see DistributedV1), so the run is
  // interrupted even when this rank's process was not asked.
  bool data_parallel = false;
  // LibTorch's threads when the pipeline does not set pipeline.threads (0: every core).
  int default_threads = 0;
};

// Loads every plugin the pipeline uses (checking each handshake before any C++ call),
// records the run as `running` with its parameters and environment, executes the
// stages in order and records each one's status, timing, metrics and artifacts. A
// failing or throwing plugin fails its stage and the run, never the host.
RunOutcome ExecutePipeline(const pipeline::ResolvedPipeline& pipeline, store::RunStore& store, ProgressView& view,
                           const std::string& command_line, const ExecuteOptions& options = {});

}  // namespace sluice::exec

#endif  // SLUICE_HOST_EXEC_EXECUTOR_HPP_
