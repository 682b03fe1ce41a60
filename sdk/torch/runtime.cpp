#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <string>

#include "sluice/torch.hpp"

namespace sluice {

torch::Device ResolveDevice(const std::string& spec) {
  if (spec == "cpu") return torch::kCPU;
  const bool has_cuda = torch::cuda::is_available();
  if (spec == "auto") return has_cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (spec.rfind("cuda", 0) == 0) {
    if (!has_cuda) {
      throw StageError("device '" + spec +
                       "' requested, but this LibTorch build has no usable CUDA device; use "
                       "device = \"cpu\" or \"auto\"");
    }
    torch::Device device(spec);
    const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
    if (device.has_index() && device.index() >= count) {
      throw StageError("device '" + spec + "' requested, but only " + std::to_string(count) +
                       " CUDA device(s) are present");
    }
    return device;
  }
  throw StageError("unknown device '" + spec + "' (expected auto, cpu, cuda or cuda:N)");
}

}  // namespace sluice

extern "C" const char* sluice_torch_runtime(int threads) {
  static std::string json;
  try {
    if (threads > 0) at::set_num_threads(threads);
    const bool cuda = torch::cuda::is_available();
    json = std::string("{\"libtorch\":\"") + TORCH_VERSION + "\",\"cuda\":" + (cuda ? "true" : "false") +
           ",\"cuda_devices\":" + std::to_string(cuda ? torch::cuda::device_count() : 0) +
           ",\"threads\":" + std::to_string(at::get_num_threads()) + "}";
  } catch (...) {
    json = "{}";
  }
  return json.c_str();
}
