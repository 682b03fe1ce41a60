// Studies and their trials (schema version 3): what `sluice sweep` records so that any
// number of worker processes can share one study, and a later sweep can resume it.
#ifndef SLUICE_STORE_STUDY_STORE_HPP_
#define SLUICE_STORE_STUDY_STORE_HPP_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "run_store.hpp"

namespace sluice::store {

struct StudyRecord {
  std::string id;
  std::string pipeline;
  std::string file;
  std::string spec;   // the resolved base pipeline (JSON)
  std::string sweep;  // the resolved [sweep] table (JSON)
  std::string space_key;
  std::string metric;
  std::string direction;  // maximize | minimize
  StudyStatus status = StudyStatus::kRunning;
  std::string created_at;
  std::optional<std::string> ended_at;
  std::string command;
};

struct TrialRecord {
  int64_t number = 0;  // own trials 0, 1, ...; warm-start observations -1, -2, ...
  TrialState state = TrialState::kRunning;
  std::optional<std::string> run_id;
  std::string params;  // JSON object keyed "stage.param"
  std::optional<double> value;
  std::optional<int64_t> step;
  std::string worker;
  std::string started_at;
  std::optional<std::string> ended_at;
};

// A finished run of a pipeline with its objective, a warm-start candidate.
struct PastRun {
  std::string run_id;
  std::string params_json;  // the run's parameters as one JSON object
  double value = 0;
  std::string started_at;
};

// Inside a write transaction of `db`: the sweep trial that run `run_id` executed, if it
// was one, is still running, and the run is now crashed, becomes lost (its process died,
// or its heartbeat stopped): another trial takes its place in the budget. Used when a
// crashed run is found.
void MarkTrialOfCrashedRun(Database& db, const std::string& run_id, const std::string& now);

class StudyStore {
 public:
  explicit StudyStore(RunStore& store) : store_(store), db_(store.db()) {}

  // Records the study with its warm-start observations (state 'warm').
  void CreateStudy(const StudyRecord& study, const std::vector<TrialRecord>& warm);
  // By id or unique prefix; throws StoreError when none or several match.
  StudyRecord FindStudy(const std::string& id_or_prefix);
  std::vector<StudyRecord> ListStudies(const std::optional<std::string>& pipeline, int64_t limit);
  // The study's trials by number. Reads only the trials that changed since this
  // StudyStore last looked (every change bumps the study's revision counter).
  std::vector<TrialRecord> Trials(const std::string& study_id);
  void SetStudyStatus(const std::string& study_id, StudyStatus status);

  // In one write transaction: reads the study's trials, asks `choose` for the parameters
  // of trial `number` (the next free one) and records it as running. `choose` returns
  // nothing when the study has no trial left to give; so does ClaimTrial then. `first`,
  // when given, writes before the trials are read, in the same transaction: the worker's
  // previous trial's end (FinishTrial), one round trip fewer on a server.
  using Chooser = std::function<std::optional<std::string>(const std::vector<TrialRecord>& trials, int64_t number)>;
  std::optional<TrialRecord> ClaimTrial(const std::string& study_id, const std::string& worker, const Chooser& choose,
                                        const std::function<void()>& first = {});
  // Records how trial `number` ended. While it runs, its run is found through the run's
  // own study and trial columns.
  void FinishTrial(const std::string& study_id, int64_t number, TrialState state,
                   const std::optional<std::string>& run_id, std::optional<double> value, std::optional<int64_t> step);
  // Trials left 'running' by workers that are gone (their run is not running): those
  // whose run succeeded and logged the study's metric (the worker died between the run's
  // end and the trial's) become 'complete' with it; the others 'interrupted', so a
  // resumed study runs them again.
  struct Released {
    int completed = 0;  // recorded from their runs
    int again = 0;      // to run again
  };
  Released ReleaseAbandonedTrials(const std::string& study_id);
  // While a study runs: trials left 'running' by a worker that died after its run ended
  // (the trial's end goes with the worker's next claim) or before its run began, where
  // that was before `before` (Unix seconds). Those whose run succeeded with a value of the
  // study's metric become 'complete' with it, the others 'lost', which frees their place
  // in the budget (as for a trial whose run was marked crashed). Returns how many.
  int SettleOrphanedTrials(const std::string& study_id, double before);

  // Values of metric `key` logged at `step` by runs other than `exclude_run`: with
  // `finished_only`, those of complete trials and warm-start runs; otherwise every run of
  // the study's own trials, running ones included (the runs that reached that step).
  std::vector<double> ValuesAtStep(const std::string& study_id, const std::string& key, int64_t step,
                                   const std::string& exclude_run, bool finished_only);

  // Succeeded runs of `pipeline` that logged `metric`, oldest first, except runs of
  // `exclude_study`.
  std::vector<PastRun> FinishedRuns(const std::string& pipeline, const std::string& metric,
                                    const std::string& exclude_study);

 private:
  struct TrialCache {
    int64_t revision = 0;             // the newest change read
    std::vector<TrialRecord> trials;  // by number
  };
  const std::vector<TrialRecord>& Refresh(const std::string& study_id);

  RunStore& store_;
  Database& db_;
  std::map<std::string, TrialCache> cache_;
};

}  // namespace sluice::store

#endif  // SLUICE_STORE_STUDY_STORE_HPP_
