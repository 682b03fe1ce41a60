// Start-up timings for `sluice run`, printed to stderr when SLUICE_TIMINGS=1 (used by
// bench/startup.sh to measure the host's own cost before the first stage).
#ifndef SLUICE_HOST_EXEC_TIMINGS_HPP_
#define SLUICE_HOST_EXEC_TIMINGS_HPP_

namespace sluice::exec {

// Records that `phase` ended now (milliseconds since the process started).
void MarkPhase(const char* phase);
// Prints the recorded phases on one line, once, if SLUICE_TIMINGS is set.
void PrintPhases();

}  // namespace sluice::exec

#endif  // SLUICE_HOST_EXEC_TIMINGS_HPP_
