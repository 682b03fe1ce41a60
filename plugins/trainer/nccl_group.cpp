#include "nccl_group.hpp"

#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

namespace sluice::trainer {

struct NcclGroup::Impl {
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> group;
};

NcclGroup::NcclGroup(const c10::intrusive_ptr<c10d::Store>& store, int rank, int world,
                     std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  impl_->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world, options);
}

NcclGroup::~NcclGroup() = default;

c10::intrusive_ptr<c10d::Work> NcclGroup::Allreduce(std::vector<at::Tensor>& tensors) {
  return impl_->group->allreduce(tensors);
}

c10::intrusive_ptr<c10d::Work> NcclGroup::Broadcast(std::vector<at::Tensor>& tensors) {
  return impl_->group->broadcast(tensors);
}

}  // namespace sluice::trainer
