// A study: the trials of one sweep, run by any number of worker processes that share the
// store. Each trial is an ordinary run of the pipeline with the sampled parameters set.
#ifndef SLUICE_HOST_SWEEP_STUDY_HPP_
#define SLUICE_HOST_SWEEP_STUDY_HPP_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "exec/progress.hpp"
#include "pipeline/resolved.hpp"
#include "plugin/registry.hpp"
#include "space.hpp"
#include "study_store.hpp"

namespace sluice::sweep {

// Records a new study of `base` (the pipeline with its file values) searching `sweep`.
// With warm_start, every succeeded run of the same pipeline whose parameters lie in the
// space (and equal the base elsewhere, seeds aside) joins as an observation.
store::StudyRecord CreateStudy(store::RunStore& store, const pipeline::ResolvedPipeline& base, const Sweep& sweep,
                               const std::string& command_line);
// (Without a [sweep] seed, the study's draws are seeded by the pipeline's seed and the
// study's id, and that seed is stored with the study, so --resume continues the same.)

struct WorkerOptions {
  std::optional<double> deadline;  // unix seconds: no trial starts after it
  std::string command_line;
  exec::ProgressView* trial_view = nullptr;  // where each trial's run reports (quiet by default)
  FILE* log = stderr;                        // one line per finished trial; null for none
  int threads = 0;  // threads per trial when the pipeline does not set pipeline.threads (0: all cores)
};

struct WorkerResult {
  int64_t trials = 0;  // trials this worker ran
  bool interrupted = false;
  std::optional<std::string> error;  // the study could not be worked on at all
};

// Claims and runs trials of `study_id` until the budget or the deadline is spent or
// Ctrl-C. A failing trial is recorded and the next one starts.
WorkerResult RunWorker(store::RunStore& store, const std::string& study_id, const plugin::PluginRegistry& registry,
                       const WorkerOptions& options);

// "stage.param=value ..." on one line, numbers to `digits` significant digits.
std::string FormatParams(const json& params, int digits);

struct TrialSummary {
  int64_t number = 0;
  std::string run_id;
  double value = 0;
  json params;
  bool warm = false;
};

struct StudySummary {
  int64_t own = 0, complete = 0, pruned = 0, failed = 0, interrupted = 0, running = 0, warm = 0;
  std::optional<TrialSummary> best;  // over complete trials and warm-start runs
};
StudySummary Summarize(const Sweep& sweep, const std::vector<store::TrialRecord>& trials);

// How much of the objective's variance each dimension explains over complete (and warm)
// trials: eta squared of the objective grouped by the dimension's value (numeric values
// in up to 8 quantile bins), normalized to sum to 1. Empty with fewer than 4 trials.
std::vector<std::pair<std::string, double>> ParameterImportance(const Sweep& sweep,
                                                                const std::vector<store::TrialRecord>& trials);

}  // namespace sluice::sweep

#endif  // SLUICE_HOST_SWEEP_STUDY_HPP_
