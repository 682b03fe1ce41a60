// Ctrl-C handling for `sluice run`. SIGINT and SIGTERM are blocked in every thread and
// taken by one watcher thread (sigwait), so no store code ever runs in a signal handler.
// First signal: ask the running stage to stop (StageContext::StopRequested); the run
// ends as `interrupted` with what it logged so far. Second signal: mark the run
// interrupted and exit at once with status 130.
#ifndef SLUICE_HOST_EXEC_INTERRUPT_HPP_
#define SLUICE_HOST_EXEC_INTERRUPT_HPP_

#include <sys/types.h>

#include <functional>
#include <string>

namespace sluice::exec {

// Call first thing in main(), before any thread exists, so all threads inherit the mask.
void InstallInterruptWatcher();
bool StopRequested();
// For a command that is not a run (`sluice serve`): what the first signal prints, and a
// function the watcher thread calls then, once, after StopRequested() has turned true.
void OnFirstStop(std::string message, std::function<void()> callback);
// Every signal the watcher takes from now on is also sent to `pid` (a sweep's worker
// process, started in its own process group so that a terminal's Ctrl-C reaches it once).
void ForwardSignalsTo(pid_t pid);
// Which run a second Ctrl-C should mark before exiting (empty run id: none).
void SetActiveRun(const std::string& store_db, const std::string& run_id);

}  // namespace sluice::exec

#endif  // SLUICE_HOST_EXEC_INTERRUPT_HPP_
