#include "interrupt.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "run_store.hpp"

namespace sluice::exec {
namespace {

std::atomic<bool> g_stop{false};
std::mutex g_mutex;
std::string g_store_db, g_run_id;
std::vector<pid_t> g_forward;  // worker processes that get every signal this one gets
std::string g_stop_message = "\nsluice: stopping after the current step (press Ctrl-C again to exit now)\n";
std::function<void()> g_on_stop;

void MarkInterruptedAndExit(int signal_number) {
  std::string db_path, run_id;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    db_path = g_store_db;
    run_id = g_run_id;
  }
  if (!run_id.empty()) {
    // Exiting anyway: if this fails, the next open marks the run crashed.
    store::RunStore::MarkInterruptedNow(db_path, run_id,
                                        "interrupted by a second " +
                                            std::string(signal_number == SIGTERM ? "SIGTERM" : "Ctrl-C") +
                                            "; exited at once, metrics not yet written were lost");
  }
  std::fputs("\nsluice: interrupted again, exiting now\n", stderr);
  _exit(130);
}

void Watch(sigset_t set) {
  for (;;) {
    int signal_number = 0;
    if (sigwait(&set, &signal_number) != 0) continue;
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      for (pid_t pid : g_forward) kill(pid, signal_number);
    }
    if (!g_stop.exchange(true)) {
      std::function<void()> on_stop;
      {
        std::lock_guard<std::mutex> lock(g_mutex);
        std::fputs(g_stop_message.c_str(), stderr);
        on_stop = g_on_stop;
      }
      if (on_stop) on_stop();
      continue;
    }
    MarkInterruptedAndExit(signal_number);
  }
}

}  // namespace

void InstallInterruptWatcher() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread(Watch, set).detach();
}

bool StopRequested() { return g_stop.load(std::memory_order_relaxed); }

void OnFirstStop(std::string message, std::function<void()> callback) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_stop_message = std::move(message);
  g_on_stop = std::move(callback);
}

void ForwardSignalsTo(pid_t pid) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_forward.push_back(pid);
}

void SetActiveRun(const std::string& store_db, const std::string& run_id) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_store_db = store_db;
  g_run_id = run_id;
}

}  // namespace sluice::exec
