#include "timings.hpp"

#include <time.h>

#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace sluice::exec {
namespace {

// Milliseconds since this process started, from the kernel's start time in /proc.
double SinceProcessStart() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);  // same clock as /proc/self/stat start time (boot-based)
  std::ifstream stat("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Field 22 (starttime, in clock ticks since boot) comes after the ")" closing field 2.
  size_t pos = text.rfind(')');
  unsigned long long start_ticks = 0;
  if (pos != std::string::npos) {
    const char* p = text.c_str() + pos + 2;
    for (int field = 3; field < 22 && *p; ++field) {
      while (*p && *p != ' ') ++p;
      while (*p == ' ') ++p;
    }
    start_ticks = std::strtoull(p, nullptr, 10);
  }
  timespec boot{};
  clock_gettime(CLOCK_BOOTTIME, &boot);
  const double now_ms = static_cast<double>(boot.tv_sec) * 1e3 + static_cast<double>(boot.tv_nsec) / 1e6;
  return now_ms - static_cast<double>(start_ticks) * 1e3 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct Phase {
  const char* name;
  double ms;
};

std::vector<Phase>& Phases() {
  static std::vector<Phase> phases;
  return phases;
}

bool Enabled() {
  static const bool enabled = std::getenv("SLUICE_TIMINGS") != nullptr;
  return enabled;
}

}  // namespace

void MarkPhase(const char* phase) {
  if (Enabled()) Phases().push_back({phase, SinceProcessStart()});
}

void PrintPhases() {
  if (!Enabled() || Phases().empty()) return;
  std::string line = "sluice: timings (ms since process start):";
  char buf[64];
  for (const Phase& p : Phases()) {
    std::snprintf(buf, sizeof buf, " %s %.1f", p.name, p.ms);
    line += buf;
  }
  std::fprintf(stderr, "%s\n", line.c_str());
  Phases().clear();
}

}  // namespace sluice::exec
