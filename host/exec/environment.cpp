#include "environment.hpp"

#include <sys/utsname.h>

#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "plugin/loader.hpp"
#include "plugin/registry.hpp"
#include "run_store.hpp"
#include "sluice/config.h"

namespace sluice::exec {

unsigned HardwareThreads() {
  static const unsigned threads = std::thread::hardware_concurrency();
  return threads;
}

std::map<std::string, std::string> HostEnvironment() {
  // The same for every run of this process (a sweep records it per trial): read it once.
  static const std::map<std::string, std::string> cached = [] {
    std::map<std::string, std::string> env;
    env["sluice"] = SLUICE_SDK_VERSION;
    env["toolchain"] = plugin::HostToolchainKey();
    env["compiler"] =
#if defined(__clang__)
        std::string("clang ") + __clang_version__;
#else
        std::string("gcc ") + __VERSION__;
#endif
    env["libtorch"] = SLUICE_TORCH_VERSION;  // what the SDK was built with; refined at run time
    env["host"] = store::HostName();
    env["cores"] = std::to_string(HardwareThreads());
    utsname u{};
    if (uname(&u) == 0) env["os"] = std::string(u.sysname) + " " + u.release + " " + u.machine;
    std::ifstream cpuinfo("/proc/cpuinfo");
    for (std::string line; std::getline(cpuinfo, line);) {
      if (line.rfind("model name", 0) == 0) {
        env["cpu"] = line.substr(line.find(':') + 2);
        break;
      }
    }
    return env;
  }();
  return cached;
}

void AddTorchEnvironment(std::map<std::string, std::string>& env, int threads) {
  const std::string json = plugin::TorchRuntime(threads);
  if (json.empty()) return;
  try {
    nlohmann::json j = nlohmann::json::parse(json);
    env["libtorch"] = j.at("libtorch").get<std::string>();
    env["cuda"] = j.at("cuda").get<bool>()
                      ? "available (" + std::to_string(j.at("cuda_devices").get<int>()) + " devices)"
                      : "not available";
    env["threads"] = std::to_string(j.at("threads").get<int>());
  } catch (const std::exception&) {
    // Not worth failing a run over.
  }
}

}  // namespace sluice::exec
