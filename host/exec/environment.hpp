// Facts about where a run executes, recorded with it.
#ifndef SLUICE_HOST_EXEC_ENVIRONMENT_HPP_
#define SLUICE_HOST_EXEC_ENVIRONMENT_HPP_

#include <map>
#include <string>

namespace sluice::exec {

// What the host knows without LibTorch: sluice and compiler versions, toolchain key,
// host, OS, CPU.
std::map<std::string, std::string> HostEnvironment();
// std::thread::hardware_concurrency(), read once (it reads /sys on every call).
unsigned HardwareThreads();
// Adds LibTorch's runtime facts (version, CUDA, threads) when a plugin loaded it.
void AddTorchEnvironment(std::map<std::string, std::string>& env, int threads);

}  // namespace sluice::exec

#endif  // SLUICE_HOST_EXEC_ENVIRONMENT_HPP_
