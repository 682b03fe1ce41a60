#include "data_parallel.hpp"

#include <torch/cuda.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "sluice/stage.hpp"
#include "sluice/torch.hpp"
#ifdef SLUICE_TRAINER_NCCL
#include "nccl_group.hpp"
#endif

namespace sluice::trainer {

namespace {

std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(std::ceil(seconds * 1000)));
}

bool Loopback(const std::string& address) {
  return address == "localhost" || address.rfind("127.", 0) == 0 || address == "::1";
}

// One TCPStore per process, for every training stage of the run: rank 0 serves it on the
// master port for as long as the process lives (never destroyed: no rank may lose it
// while another still reads it). Each stage works under its own prefix.
c10::intrusive_ptr<c10d::Store> RendezvousStore(const DistributedV1& dist) {
  static c10::intrusive_ptr<c10d::TCPStore>* store = nullptr;
  if (!store) {
    c10d::TCPStoreOptions options;
    options.port = static_cast<std::uint16_t>(dist.master_port());
    options.isServer = dist.rank() == 0;
    options.numWorkers = static_cast<std::size_t>(dist.world_size());
    options.waitWorkers = true;
    options.timeout = Millis(dist.timeout_seconds());
    store = new c10::intrusive_ptr<c10d::TCPStore>(c10::make_intrusive<c10d::TCPStore>(dist.master_address(), options));
  }
  return *store;
}

}  // namespace

const DistributedV1* Ranks(StageContext& ctx) {
  const auto* dist = ctx.Service<DistributedV1>();
  return dist && dist->world_size() > 1 ? dist : nullptr;
}

std::unique_ptr<DataParallel> JoinRanks(StageContext& ctx, const DistributedV1& dist,
                                        std::vector<torch::Tensor> parameters) {
  auto dp = std::make_unique<DataParallel>(dist, ctx.stage_name(), std::move(parameters));
  if (dp->rank() == 0) ctx.RequireService<RunInfoV1>().SetEnvironment("dist_backend", dp->backend());
  return dp;
}

torch::Device RankDevice(const DistributedV1* dist, const std::string& spec) {
  const torch::Device device = ResolveDevice(spec);
  if (!dist || !device.is_cuda() || spec.find(':') != std::string::npos) return device;
  const int gpus = static_cast<int>(torch::cuda::device_count());
  return {torch::kCUDA, static_cast<torch::DeviceIndex>(dist->local_rank() % gpus)};
}

struct DataParallel::Impl {
  struct Bucket {
    torch::Tensor flat;              // the gradients of its parameters, end to end
    std::vector<size_t> parameters;  // indices into `parameters`
    size_t pending = 0;              // gradients not yet copied in this step
    c10::intrusive_ptr<c10d::Work> work;
  };
  // Gloo always (on the CPU, and for CUDA tensors where NCCL cannot serve: ranks sharing
  // a GPU); NCCL for the gradients and weights where every rank has a GPU of its own.
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
#ifdef SLUICE_TRAINER_NCCL
  std::unique_ptr<NcclGroup> nccl;
#endif
  std::vector<torch::Tensor> parameters;
  std::vector<unsigned> hooks;
  std::vector<Bucket> buckets;
  std::vector<size_t> bucket_of;
  std::vector<int64_t> offset_of;
  std::vector<bool> ready;
  size_t next_launch = 0;
  double timeout = 300;

  void Wait(const char* what, const c10::intrusive_ptr<c10d::Work>& work) {
    try {
      work->wait(Millis(timeout));
    } catch (const std::exception& e) {
      std::string message = e.what();
      if (message.size() > 300) message = message.substr(0, 300) + "...";
      throw StageError(std::string("data-parallel ") + what + " failed (a rank stopped or is unreachable): " + message);
    }
  }

  c10::intrusive_ptr<c10d::Work> Allreduce(std::vector<at::Tensor>& tensors) {
#ifdef SLUICE_TRAINER_NCCL
    if (nccl) return nccl->Allreduce(tensors);
#endif
    return group->allreduce(tensors);
  }

  c10::intrusive_ptr<c10d::Work> Broadcast(std::vector<at::Tensor>& tensors) {
#ifdef SLUICE_TRAINER_NCCL
    if (nccl) return nccl->Broadcast(tensors);
#endif
    return group->broadcast(tensors);
  }

  // Buckets are launched in order, the same on every rank (collectives pair up by order).
  void LaunchReady() {
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
      Bucket& b = buckets[next_launch++];
      std::vector<at::Tensor> tensors = {b.flat};
      b.work = Allreduce(tensors);
    }
  }

  void OnGradient(size_t index, const torch::Tensor& grad) {
    if (ready[index]) return;
    ready[index] = true;
    Bucket& b = buckets[bucket_of[index]];
    b.flat.narrow(0, offset_of[index], grad.numel()).copy_(grad.reshape({-1}));
    --b.pending;
    LaunchReady();
  }
};

DataParallel::DataParallel(const DistributedV1& dist, const std::string& stage, std::vector<torch::Tensor> parameters,
                           int64_t bucket_bytes)
    : impl_(std::make_unique<Impl>()), rank_(dist.rank()), world_(dist.world_size()) {
  Impl& m = *impl_;
  m.timeout = dist.timeout_seconds();
  m.parameters = std::move(parameters);
  try {
    auto store = c10::make_intrusive<c10d::PrefixStore>("sluice/" + stage, RendezvousStore(dist));
    auto options = c10d::ProcessGroupGloo::Options::create(Millis(dist.timeout_seconds()));
    options->devices.push_back(Loopback(dist.master_address())
                                   ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                   : c10d::ProcessGroupGloo::createDefaultDevice());
    options->threads = 1;
    m.group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank_, world_, options);
#ifdef SLUICE_TRAINER_NCCL
    // NCCL where every rank trains on a GPU of its own (the trainer gives local rank k
    // GPU k while the host has enough): the ranks must agree, so each says whether it
    // can and the group takes the minimum.
    const bool own_gpu =
        !m.parameters.empty() && m.parameters[0].is_cuda() && m.parameters[0].device().index() == dist.local_rank();
    std::vector<at::Tensor> vote = {torch::tensor({own_gpu ? 1 : 0}, torch::kInt32)};
    c10d::AllreduceOptions minimum;
    minimum.reduceOp = c10d::ReduceOp::MIN;
    m.Wait("choice of NCCL", m.group->allreduce(vote, minimum));
    if (vote[0].item<int>() == 1) {
      m.nccl = std::make_unique<NcclGroup>(
          c10::make_intrusive<c10d::PrefixStore>("sluice/" + stage + "/nccl", RendezvousStore(dist)), rank_, world_,
          m.parameters[0].device(), Millis(dist.timeout_seconds()));
    }
#endif
  } catch (const std::exception& e) {
    std::string message = e.what();
    if (message.size() > 300) message = message.substr(0, 300) + "...";
    throw StageError("rank " + std::to_string(rank_) + " could not join the other " + std::to_string(world_ - 1) +
                     " ranks at " + dist.master_address() + ":" + std::to_string(dist.master_port()) + ": " + message);
  }

  // Start from rank 0's weights, whatever each rank's initialization drew.
  {
    torch::NoGradGuard no_grad;
    for (torch::Tensor& p : m.parameters) {
      std::vector<at::Tensor> tensors = {p.detach()};
      m.Wait("broadcast of the initial weights", m.Broadcast(tensors));
    }
  }

  // Buckets in the reverse order of the parameters: the order in which a backward pass
  // produces their gradients.
  const size_t n = m.parameters.size();
  m.bucket_of.assign(n, 0);
  m.offset_of.assign(n, 0);
  m.ready.assign(n, false);
  int64_t filled = 0;
  for (size_t k = n; k-- > 0;) {
    const torch::Tensor& p = m.parameters[k];
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    if (m.buckets.empty() || (filled > 0 && filled + bytes > bucket_bytes)) {
      m.buckets.emplace_back();
      filled = 0;
    }
    Impl::Bucket& b = m.buckets.back();
    m.bucket_of[k] = m.buckets.size() - 1;
    m.offset_of[k] = filled / static_cast<int64_t>(p.element_size());
    b.parameters.push_back(k);
    filled += bytes;
  }
  for (Impl::Bucket& b : m.buckets) {
    int64_t numel = 0;
    for (size_t k : b.parameters) numel += m.parameters[k].numel();
    // The last bucket carries two more elements, summed with the gradients rather than by
    // collectives of their own: the step's value (the loss) and how many ranks asked to
    // stop.
    if (&b == &m.buckets.back()) numel += 2;
    b.flat = torch::zeros({numel}, m.parameters[b.parameters[0]].options().requires_grad(false));
  }
  for (size_t k = 0; k < n; ++k) {
    Impl* impl = impl_.get();
    m.hooks.push_back(
        m.parameters[k].register_hook([impl, k](const torch::Tensor& grad) { impl->OnGradient(k, grad); }));
  }
}

DataParallel::~DataParallel() {
  for (size_t k = 0; k < impl_->hooks.size(); ++k) impl_->parameters[k].remove_hook(impl_->hooks[k]);
}

const char* DataParallel::backend() const {
#ifdef SLUICE_TRAINER_NCCL
  if (impl_->nccl) return "nccl";
#endif
  return "gloo";
}

void DataParallel::BeginStep(double value, bool stop) {
  Impl& m = *impl_;
  torch::Tensor& last = m.buckets.back().flat;
  last[last.numel() - 2].fill_(value);
  last[last.numel() - 1].fill_(stop ? 1.0 : 0.0);
  std::fill(m.ready.begin(), m.ready.end(), false);
  for (Impl::Bucket& b : m.buckets) {
    b.pending = b.parameters.size();
    b.work.reset();
  }
  m.next_launch = 0;
}

double DataParallel::FinishStep() {
  Impl& m = *impl_;
  torch::NoGradGuard no_grad;
  // Parameters this rank's backward pass did not reach (no examples this step, or unused
  // by the forward pass) contribute zeros.
  for (size_t k = 0; k < m.parameters.size(); ++k) {
    if (m.ready[k]) continue;
    m.ready[k] = true;
    Impl::Bucket& b = m.buckets[m.bucket_of[k]];
    b.flat.narrow(0, m.offset_of[k], m.parameters[k].numel()).zero_();
    --b.pending;
  }
  m.LaunchReady();
  for (Impl::Bucket& b : m.buckets) {
    m.Wait("gradient all-reduce", b.work);
    for (size_t k : b.parameters) {
      torch::Tensor& p = m.parameters[k];
      torch::Tensor summed = b.flat.narrow(0, m.offset_of[k], p.numel()).view_as(p);
      if (p.mutable_grad().defined()) {
        p.mutable_grad().copy_(summed);
      } else {
        p.mutable_grad() = summed.clone();
      }
    }
  }
  const torch::Tensor& last = m.buckets.back().flat;
  stop_agreed_ = last[last.numel() - 1].item<double>() > 0;
  return last[last.numel() - 2].item<double>();
}

double DataParallel::SumAcrossRanks(double value) {
  torch::Tensor sum = torch::tensor({value}, torch::kFloat64);
  SumAcrossRanks(sum);
  return sum.item<double>();
}

void DataParallel::SumAcrossRanks(torch::Tensor& values) {
  std::vector<at::Tensor> tensors = {values};
  impl_->Wait("all-reduce", impl_->group->allreduce(tensors));
}

double DataParallel::MaxDifferenceFromRank0() {
  torch::NoGradGuard no_grad;
  double worst = 0;
  for (const torch::Tensor& p : impl_->parameters) {
    std::vector<at::Tensor> tensors = {p.detach().clone()};
    impl_->Wait("weight comparison", impl_->Broadcast(tensors));
    worst = std::max(worst, (tensors[0] - p).abs().max().item<double>());
  }
  return worst;
}

void DataParallel::Barrier() { impl_->Wait("barrier", impl_->group->barrier()); }

}  // namespace sluice::trainer
