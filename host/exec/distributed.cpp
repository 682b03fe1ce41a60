#include "distributed.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "interrupt.hpp"
#include "run_store.hpp"

extern char** environ;

namespace sluice::exec {

namespace fs = std::filesystem;

namespace {

const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

int EnvInt(const char* name, int fallback) {
  const char* v = Env(name);
  return v ? std::atoi(v) : fallback;
}

}  // namespace

std::pair<std::string, int> ParseMaster(const std::string& master) {
  const size_t colon = master.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    throw std::invalid_argument("--master '" + master + "' is not ADDR:PORT");
  }
  std::string host = master.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  char* end = nullptr;
  const long port = std::strtol(master.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port < 1 || port > 65535) {
    throw std::invalid_argument("--master '" + master + "': the port must be a number from 1 to 65535");
  }
  return {host, static_cast<int>(port)};
}

namespace {

// A TCP port free on the loopback interface now (the kernel's pick), for rank 0's store.
int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(std::string("cannot open a socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  if (port == 0) throw std::runtime_error(std::string("cannot find a free port: ") + std::strerror(errno));
  return port;
}

// A rank's `sluice run` exits with 130 (cli::kExitInterrupted) when its run was interrupted.
bool Interrupted(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 130; }

std::string Describe(int rank, int status) {
  if (WIFSIGNALED(status))
    return "rank " + std::to_string(rank) + " was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  if (Interrupted(status)) return "rank " + std::to_string(rank) + " was interrupted";
  return "rank " + std::to_string(rank) + " exited with status " + std::to_string(WEXITSTATUS(status));
}

bool Failed(int status) { return !WIFEXITED(status) || WEXITSTATUS(status) != 0; }

}  // namespace

std::optional<RankInfo> RankFromEnvironment() {
  if (!Env("SLUICE_DIST_RANK")) return std::nullopt;
  RankInfo info;
  info.rank = EnvInt("SLUICE_DIST_RANK", 0);
  info.world_size = EnvInt("SLUICE_DIST_WORLD_SIZE", 1);
  info.local_rank = EnvInt("SLUICE_DIST_LOCAL_RANK", 0);
  info.local_world_size = EnvInt("SLUICE_DIST_LOCAL_WORLD_SIZE", 1);
  std::tie(info.master_address, info.master_port) =
      ParseMaster(Env("SLUICE_DIST_MASTER") ? Env("SLUICE_DIST_MASTER") : "");
  if (const char* t = Env("SLUICE_DIST_TIMEOUT")) info.timeout_seconds = std::atof(t);
  info.run_id = Env("SLUICE_DIST_RUN_ID") ? Env("SLUICE_DIST_RUN_ID") : "";
  info.store = Env("SLUICE_DIST_STORE") ? Env("SLUICE_DIST_STORE") : "";
  info.main_store = Env("SLUICE_DIST_MAIN_STORE") ? Env("SLUICE_DIST_MAIN_STORE") : "";
  info.main_dir = Env("SLUICE_DIST_MAIN_DIR") ? Env("SLUICE_DIST_MAIN_DIR") : "";
  if (info.world_size < 1 || info.rank < 0 || info.rank >= info.world_size || info.run_id.empty()) {
    throw std::invalid_argument("SLUICE_DIST_* describe no valid rank (set by `sluice run --nproc`, not by hand)");
  }
  return info;
}

int LaunchRanks(const LaunchOptions& options) {
  std::string address;
  int port = 0;
  if (options.master.empty()) {
    address = "127.0.0.1";
    port = FreeLoopbackPort();
  } else {
    std::tie(address, port) = ParseMaster(options.master);
  }
  const int world = options.nproc * options.nnodes;
  const fs::path scratch = options.store_dir / "tmp" / ("ranks-" + options.run_id);
  const std::string self = fs::read_symlink("/proc/self/exe").string();

  std::map<pid_t, int> ranks;  // live ranks of this node, by pid
  std::string first_failure;
  bool rank0_here = false;
  int rank0_status = 0;
  bool rank0_exited = false;
  for (int local = 0; local < options.nproc; ++local) {
    const int rank = options.node_rank * options.nproc + local;
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) {
      if (std::strncmp(*e, "SLUICE_DIST_", 12) != 0) env_strings.emplace_back(*e);
    }
    auto set = [&](const std::string& k, const std::string& v) { env_strings.push_back(k + "=" + v); };
    set("SLUICE_DIST_RANK", std::to_string(rank));
    set("SLUICE_DIST_WORLD_SIZE", std::to_string(world));
    set("SLUICE_DIST_LOCAL_RANK", std::to_string(local));
    set("SLUICE_DIST_LOCAL_WORLD_SIZE", std::to_string(options.nproc));
    set("SLUICE_DIST_MASTER",
        (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":" + std::to_string(port));
    char timeout[32];
    std::snprintf(timeout, sizeof timeout, "%g", options.timeout_seconds);
    set("SLUICE_DIST_TIMEOUT", timeout);
    set("SLUICE_DIST_RUN_ID", options.run_id);
    set("SLUICE_DIST_MAIN_STORE", options.store);
    set("SLUICE_DIST_MAIN_DIR", options.store_dir.string());
    if (rank > 0) set("SLUICE_DIST_STORE", (scratch / ("rank-" + std::to_string(rank))).string());
    std::vector<std::string> args = {self, "run"};
    args.insert(args.end(), options.args.begin(), options.args.end());
    std::vector<char*> argv, envp;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (std::string& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);

    // Each rank in its own process group: a terminal's Ctrl-C reaches the launcher only,
    // which passes it on once (a rank getting it twice would take it for exit-now).
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    if (rank > 0 && options.quiet_stdout_of_others) {
      posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    }
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, self.c_str(), &files, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&files);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      first_failure = "cannot start rank " + std::to_string(rank) + ": " + std::strerror(rc);
      for (const auto& [p, r] : ranks) kill(p, SIGKILL);
      break;
    }
    ForwardSignalsTo(pid);
    ranks[pid] = rank;
    if (rank == 0) rank0_here = true;
  }

  // After the first failure, the others get `grace_seconds` to fail on their own (a lost
  // peer ends their next collective), then are killed.
  std::mutex mutex;
  std::condition_variable done;
  bool all_exited = false;
  std::thread reaper;
  int exit_code = first_failure.empty() ? 0 : 1;
  while (!ranks.empty()) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    auto it = ranks.find(pid);
    if (it == ranks.end()) continue;
    const int rank = it->second;
    {
      std::lock_guard<std::mutex> lock(mutex);
      ranks.erase(it);
    }
    if (rank == 0) {
      rank0_exited = true;
      rank0_status = status;
    }
    if (Failed(status) && first_failure.empty()) {
      first_failure = Describe(rank, status);
      if (!ranks.empty() && !StopRequested()) {
        std::cerr << "sluice: " << first_failure
                  << (Interrupted(status) ? "; the other ranks stop after the same step\n"
                                          : "; stopping the other ranks\n");
        reaper = std::thread([&, grace = options.grace_seconds] {
          std::unique_lock<std::mutex> lock(mutex);
          if (done.wait_for(lock, std::chrono::duration<double>(grace), [&] { return all_exited; })) return;
          for (const auto& [p, r] : ranks) kill(p, SIGKILL);
        });
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    all_exited = true;
  }
  done.notify_all();
  if (reaper.joinable()) reaper.join();
  std::error_code ec;
  fs::remove_all(scratch, ec);

  if (rank0_here) {
    if (rank0_exited && WIFEXITED(rank0_status)) {
      exit_code = WEXITSTATUS(rank0_status);
    } else if (rank0_exited || !first_failure.empty()) {
      exit_code = StopRequested() ? 130 : 1;
    }
    // Rank 0 killed (or never started): record the end of the run it could not record.
    if (!rank0_exited || !WIFEXITED(rank0_status)) {
      try {
        auto store = store::RunStore::Open(options.store);
        const store::RunRecord run = store->FindRun(options.run_id);
        if (run.status == store::RunStatus::kRunning || run.status == store::RunStatus::kCrashed) {
          store->FinishRun(run.id, StopRequested() ? store::RunStatus::kInterrupted : store::RunStatus::kFailed,
                           first_failure + "; the other ranks were stopped");
        }
      } catch (const std::exception&) {
        // The run was never recorded (rank 0 died first): nothing to finish.
      }
    }
  }
  if (exit_code == 0 && !first_failure.empty()) exit_code = 1;
  if (!first_failure.empty() && !rank0_here) std::cerr << "sluice: " << first_failure << "\n";
  return exit_code;
}

}  // namespace sluice::exec
