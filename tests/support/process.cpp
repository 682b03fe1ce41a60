#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace sluice::testing {
namespace {

std::vector<std::string> BuildEnv(const ProcessOptions& options) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string entry = *e;
    auto eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& name : options.unset_env) env.erase(name);
  for (const auto& [k, v] : options.env) env[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

pid_t Spawn(const std::vector<std::string>& argv, const ProcessOptions& options, int& out_fd, int& err_fd) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, options.cwd.c_str());
  // The child starts with default signal handling and an empty mask, whatever ours is.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings = BuildEnv(options);
  std::vector<char*> env;
  for (auto& e : env_strings) env.push_back(e.data());
  env.push_back(nullptr);

  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0].c_str(), &actions, &attr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  out_fd = out_pipe[0];
  err_fd = err_pipe[0];
  return pid;
}

// Reads both pipes until both close, or until `timeout_ms` (if >= 0) passes; false then.
bool Drain(int out_fd, int err_fd, std::string& out, std::string& err, int timeout_ms = -1) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  int open_count = (out_fd >= 0) + (err_fd >= 0);
  if (out_fd < 0) fds[0].fd = -1;
  if (err_fd < 0) fds[1].fd = -1;
  char buf[65536];
  while (open_count > 0) {
    int wait_ms = -1;
    if (timeout_ms >= 0) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      wait_ms = static_cast<int>(left.count());
    }
    const int ready = poll(fds, 2, wait_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (ready == 0) continue;  // the deadline check above ends it
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? out : err).append(buf, static_cast<size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_count;
      }
    }
  }
  return true;
}

int WaitExit(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

ProcessResult RunProcess(const std::vector<std::string>& argv, const ProcessOptions& options) {
  ProcessResult result;
  int out_fd = -1, err_fd = -1;
  pid_t pid = Spawn(argv, options, out_fd, err_fd);
  Drain(out_fd, err_fd, result.out, result.err);
  result.exit_code = WaitExit(pid);
  return result;
}

Child::Child(const std::vector<std::string>& argv, const ProcessOptions& options) {
  pid_ = Spawn(argv, options, out_fd_, err_fd_);
}

Child::~Child() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    WaitExit(pid_);
  }
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
}

bool Child::WaitForLine(const std::function<bool(const std::string&)>& match) {
  char buf[4096];
  for (;;) {
    size_t nl;
    while ((nl = err_buffer_.find('\n')) != std::string::npos) {
      std::string line = err_buffer_.substr(0, nl);
      err_seen_ += line + "\n";
      err_buffer_.erase(0, nl + 1);
      if (match(line)) return true;
    }
    // stdout may fill up too: the child only writes it at the end, so reading stderr
    // alone cannot deadlock here.
    ssize_t n = read(err_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    err_buffer_.append(buf, static_cast<size_t>(n));
  }
}

void Child::Signal(int signal_number) { kill(pid_, signal_number); }

ProcessResult Child::Wait() {
  ProcessResult result;
  std::string rest;
  Drain(out_fd_, err_fd_, result.out, rest);
  out_fd_ = err_fd_ = -1;
  result.err = err_seen_ + err_buffer_ + rest;
  result.exit_code = WaitExit(pid_);
  pid_ = -1;
  return result;
}

std::optional<ProcessResult> Child::WaitAtMost(int seconds) {
  ProcessResult result;
  std::string rest;
  if (!Drain(out_fd_, err_fd_, result.out, rest, seconds * 1000)) return std::nullopt;
  out_fd_ = err_fd_ = -1;
  result.err = err_seen_ + err_buffer_ + rest;
  result.exit_code = WaitExit(pid_);
  pid_ = -1;
  return result;
}

void KillOwnChildren() {
  const std::string self = std::to_string(getpid());
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    // pid (comm) state ppid ...: the command may hold spaces and parentheses.
    std::istringstream fields(line.substr(line.rfind(')') + 1));
    std::string state, ppid;
    fields >> state >> ppid;
    if (ppid == self) kill(std::stoi(entry.path().filename().string()), SIGKILL);
  }
}

std::string SluiceBinary() { return SLUICE_TEST_BINARY; }

}  // namespace sluice::testing
