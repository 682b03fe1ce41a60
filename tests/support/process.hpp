// Runs the sluice binary (or any program) as a child process for integration tests.
#ifndef SLUICE_TESTS_SUPPORT_PROCESS_HPP_
#define SLUICE_TESTS_SUPPORT_PROCESS_HPP_

#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sluice::testing {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal when killed by a signal
  std::string out;     // stdout
  std::string err;     // stderr
};

struct ProcessOptions {
  std::string cwd;                         // "" = current
  std::map<std::string, std::string> env;  // added to (or replacing in) the environment
  std::vector<std::string> unset_env;      // removed from the environment
};

// Runs to completion, capturing stdout and stderr.
ProcessResult RunProcess(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// A running child whose stderr can be read line by line.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const ProcessOptions& options = {});
  ~Child();  // kills the child if still running
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // Reads stderr until a line satisfies `match` (true) or the stream ends (false).
  bool WaitForLine(const std::function<bool(const std::string&)>& match);
  void Signal(int signal_number);
  // Waits for exit and collects the rest of the output.
  ProcessResult Wait();
  // Like Wait(), but gives up after `seconds` while stdout or stderr is still open (held
  // by the child or by a process it started), and returns nothing then.
  std::optional<ProcessResult> WaitAtMost(int seconds);

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  std::string err_seen_;
  std::string err_buffer_;
};

// SIGKILL to every process whose parent is this one (orphans adopted as a subreaper).
void KillOwnChildren();

// The sluice binary under test, and a default environment whose plugin path holds the
// test plugins.
std::string SluiceBinary();

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SUPPORT_PROCESS_HPP_
