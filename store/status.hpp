// The statuses the store records, as enums beside the SQL CHECK constraints that allow
// them (migrations 0001 and 0003; store/SCHEMA.md). The names are the stored text and
// what the CLI prints; a test checks each list against the schema of a fresh store.
#ifndef SLUICE_STORE_STATUS_HPP_
#define SLUICE_STORE_STATUS_HPP_

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace sluice::store {

// runs.status: CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted', 'crashed', 'pruned'))
enum class RunStatus { kRunning, kSucceeded, kFailed, kInterrupted, kCrashed, kPruned };
inline constexpr std::array<std::string_view, 6> kRunStatusNames = {"running",     "succeeded", "failed",
                                                                    "interrupted", "crashed",   "pruned"};

// stages.status: the run's statuses plus 'pending' and 'skipped'.
enum class StageStatus { kPending, kRunning, kSucceeded, kFailed, kInterrupted, kSkipped, kCrashed, kPruned };
inline constexpr std::array<std::string_view, 8> kStageStatusNames = {"pending",     "running", "succeeded", "failed",
                                                                      "interrupted", "skipped", "crashed",   "pruned"};

// studies.status: CHECK (status IN ('running', 'finished', 'interrupted'))
enum class StudyStatus { kRunning, kFinished, kInterrupted };
inline constexpr std::array<std::string_view, 3> kStudyStatusNames = {"running", "finished", "interrupted"};

// trials.state: CHECK (state IN ('running', 'complete', 'pruned', 'failed', 'interrupted', 'warm', 'lost'))
// 'lost' (v6): failed because its worker died or stopped sending heartbeats; it does not
// count against the study's budget, so another trial takes its place.
enum class TrialState { kRunning, kComplete, kPruned, kFailed, kInterrupted, kWarm, kLost };
inline constexpr std::array<std::string_view, 7> kTrialStateNames = {"running",     "complete", "pruned", "failed",
                                                                     "interrupted", "warm",     "lost"};

inline std::string Name(RunStatus s) { return std::string(kRunStatusNames[static_cast<size_t>(s)]); }
inline std::string Name(StageStatus s) { return std::string(kStageStatusNames[static_cast<size_t>(s)]); }
inline std::string Name(StudyStatus s) { return std::string(kStudyStatusNames[static_cast<size_t>(s)]); }
inline std::string Name(TrialState s) { return std::string(kTrialStateNames[static_cast<size_t>(s)]); }

// The enum of a stored name; nullopt for text the schema does not allow.
template <class E, size_t N>
std::optional<E> FromName(const std::array<std::string_view, N>& names, std::string_view text) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == text) return static_cast<E>(i);
  }
  return std::nullopt;
}
// As stored: a name the schema does not allow would be a corrupt store; it reads as the
// last-resort value given.
template <class E, size_t N>
E FromStored(const std::array<std::string_view, N>& names, std::string_view text, E otherwise) {
  return FromName<E>(names, text).value_or(otherwise);
}

// JSON as the names (the CLI's --json output), for nlohmann::json and ordered_json.
template <class Json>
void to_json(Json& j, RunStatus s) {
  j = Name(s);
}
template <class Json>
void to_json(Json& j, StageStatus s) {
  j = Name(s);
}
template <class Json>
void to_json(Json& j, StudyStatus s) {
  j = Name(s);
}
template <class Json>
void to_json(Json& j, TrialState s) {
  j = Name(s);
}

}  // namespace sluice::store

#endif  // SLUICE_STORE_STATUS_HPP_
