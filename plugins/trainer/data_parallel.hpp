// Data-parallel training over c10d (PyTorch's distributed runtime): the ranks of a
// `sluice run --nproc N` join a process group (Gloo on the CPU; NCCL on GPUs where every
// rank has one of its own, else Gloo again) through a TCPStore that
// rank 0 serves, start from rank 0's weights, and sum their gradients after every
// backward pass, in buckets launched as the backward pass produces them (the last
// layers' gradients travel while the first layers' are still being computed), as
// PyTorch's DistributedDataParallel does.
#ifndef SLUICE_TRAINER_DATA_PARALLEL_HPP_
#define SLUICE_TRAINER_DATA_PARALLEL_HPP_

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sluice/services.hpp"
#include "sluice/stage.hpp"

namespace sluice::trainer {

// The ranks this process trains among (`sluice run --nproc N`), or null when it trains
// alone (no such service, or a world of one).
const DistributedV1* Ranks(StageContext& ctx);

// The device a training stage of this rank uses, `spec` being its device parameter:
// with several ranks on GPUs, "auto" or "cuda" gives local rank k the host's GPU k
// (round robin where the host has fewer GPUs than ranks: those ranks share them, over
// Gloo instead of NCCL); "cuda:N" puts every rank on GPU N. `dist` is null when this
// process runs alone.
torch::Device RankDevice(const DistributedV1* dist, const std::string& spec);

class DataParallel;

// Joins the ranks `dist` (see DataParallel's constructor) for the stage of `ctx`; rank 0
// records the backend in the run's environment (`dist_backend`).
std::unique_ptr<DataParallel> JoinRanks(StageContext& ctx, const DistributedV1& dist,
                                        std::vector<torch::Tensor> parameters);

class DataParallel {
 public:
  // Joins the other ranks (every rank constructs one, in the same stage) and makes every
  // rank's `parameters` equal to rank 0's. Throws StageError when the ranks cannot meet
  // within the service's timeout.
  DataParallel(const DistributedV1& dist, const std::string& stage, std::vector<torch::Tensor> parameters,
               int64_t bucket_bytes = 4 << 20);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_; }
  const char* backend() const;

  // Around each backward pass: BeginStep() before it, FinishStep() after it, which
  // leaves in each parameter's .grad the sum of every rank's gradient. A rank with no
  // examples in a step skips its backward pass but still calls both. `value` (the rank's
  // share of the loss) travels with the gradients; FinishStep returns its sum. `stop`
  // (this rank was asked to stop: Ctrl-C reaches the ranks at slightly different steps)
  // travels too: after FinishStep, StopAgreed() says whether any rank asked, so every
  // rank stops after the same step instead of leaving the others in a collective.
  void BeginStep(double value = 0, bool stop = false);
  double FinishStep();
  bool StopAgreed() const { return stop_agreed_; }

  // The sum of `value` over the ranks.
  double SumAcrossRanks(double value);
  // Sums a contiguous CPU tensor over the ranks, in place: every rank gets the same sums.
  void SumAcrossRanks(torch::Tensor& values);
  // The largest absolute difference between this rank's parameters and rank 0's.
  double MaxDifferenceFromRank0();
  // Waits until every rank gets here.
  void Barrier();

 private:
  struct Impl;  // the process group and the buckets (c10d stays out of this header)
  std::unique_ptr<Impl> impl_;
  int rank_ = 0, world_ = 1;
  bool stop_agreed_ = false;
};

}  // namespace sluice::trainer

#endif  // SLUICE_TRAINER_DATA_PARALLEL_HPP_
