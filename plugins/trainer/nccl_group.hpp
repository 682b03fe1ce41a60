// NCCL for data-parallel training on GPUs: a c10d ProcessGroupNCCL, in a translation unit
// of its own (NCCL's and CUDA's headers are heavy, and present only where LibTorch was
// built with CUDA: the trainer compiles this file, and defines SLUICE_TRAINER_NCCL, only
// then; see CMakeLists.txt).
#ifndef SLUICE_TRAINER_NCCL_GROUP_HPP_
#define SLUICE_TRAINER_NCCL_GROUP_HPP_

#include <torch/types.h>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <chrono>
#include <memory>
#include <vector>

namespace sluice::trainer {

class NcclGroup {
 public:
  // Every rank constructs one, with the same store, each with its own GPU `device`.
  NcclGroup(const c10::intrusive_ptr<c10d::Store>& store, int rank, int world, torch::Device device,
            std::chrono::milliseconds timeout);
  ~NcclGroup();
  NcclGroup(const NcclGroup&) = delete;
  NcclGroup& operator=(const NcclGroup&) = delete;

  // As ProcessGroup's: the tensors are on this rank's GPU; Work::wait() makes the current
  // CUDA stream wait for the result.
  c10::intrusive_ptr<c10d::Work> Allreduce(std::vector<at::Tensor>& tensors);
  c10::intrusive_ptr<c10d::Work> Broadcast(std::vector<at::Tensor>& tensors);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::trainer

#endif  // SLUICE_TRAINER_NCCL_GROUP_HPP_
