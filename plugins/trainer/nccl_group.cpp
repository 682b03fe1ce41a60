#include "nccl_group.hpp"

#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include <exception>

namespace sluice::trainer {

struct NcclGroup::Impl {
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> group;
};

NcclGroup::NcclGroup(const c10::intrusive_ptr<c10d::Store>& store, int rank, int world, torch::Device device,
                     std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  impl_->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world, options);
  // As init_process_group(device_id=...) does: the communicator is made now, so a rank
  // that cannot reach the others fails while joining rather than at its first step.
  impl_->group->setBoundDeviceId(device);
  impl_->group->eagerConnectSingleDevice(device);
}

NcclGroup::~NcclGroup() {
  // Normal exit: shut the communicators down (without it, PyTorch warns that the group
  // was never destroyed); while a failure unwinds (a rank gone, a collective timed out),
  // abort them instead of waiting for work that will never end.
  try {
    if (std::uncaught_exceptions() > 0) {
      impl_->group->abort();
    } else {
      impl_->group->shutdown();
    }
  } catch (const std::exception&) {  // nothing more to do on the way out
  }
}

c10::intrusive_ptr<c10d::Work> NcclGroup::Allreduce(std::vector<at::Tensor>& tensors) {
  return impl_->group->allreduce(tensors);
}

c10::intrusive_ptr<c10d::Work> NcclGroup::Broadcast(std::vector<at::Tensor>& tensors) {
  return impl_->group->broadcast(tensors);
}

}  // namespace sluice::trainer
