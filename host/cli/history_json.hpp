// The JSON shapes of the run history: what `runs`, `studies` and `models` print with
// --json, and what `sluice ui` answers under /api/ (one definition for both).
#ifndef SLUICE_HOST_CLI_HISTORY_JSON_HPP_
#define SLUICE_HOST_CLI_HISTORY_JSON_HPP_

#include <map>
#include <string>
#include <vector>

#include "json_output.hpp"
#include "run_store.hpp"
#include "study_store.hpp"

namespace sluice::sweep {
struct StudySummary;
}

namespace sluice::cli {

// Parameter values as JSON (each stored as JSON text; text that is not JSON as a string).
json ParamsJson(const std::map<std::string, std::string>& params);
// id, pipeline, status, started_at, ended_at, error.
json RunSummaryJson(const store::RunRecord& r);
// `runs show --json`: the summary, file, study, trial, params, metrics (latest), stages,
// artifacts (each checked against its digest: state ok, missing or changed; `problems`
// gets a message for each that is not ok), environment.
json RunJson(store::RunStore& store, const store::RunRecord& run, std::vector<std::string>* problems = nullptr);
// `models list --json` (and `models show`, with the manifest).
json ModelJson(const store::ModelRecord& m, bool with_manifest);
// A study's best trial (run, value, params, trial, warm_start), or null.
json BestJson(const sweep::StudySummary& s);
// `studies list --json`: one entry.
json StudySummaryJson(store::StudyStore& studies, const store::StudyRecord& study);
// `studies show --json`.
json StudyJson(store::StudyStore& studies, const store::StudyRecord& study);

}  // namespace sluice::cli

#endif  // SLUICE_HOST_CLI_HISTORY_JSON_HPP_
