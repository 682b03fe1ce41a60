// What a trainer saves after every epoch so that `sluice run --resume` continues exactly:
// weights, optimizer state, both random number generators, counters and the early
// stopping bookkeeping. One LibTorch archive, written to a temporary name and renamed.
#ifndef SLUICE_PLUGINS_TRAINER_CHECKPOINT_HPP_
#define SLUICE_PLUGINS_TRAINER_CHECKPOINT_HPP_

#include <torch/optim.h>

#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "sluice/torch.hpp"

namespace sluice::trainer {

struct TrainState {
  int64_t epoch = 0;        // epochs completed
  int64_t global_step = 0;  // optimizer steps taken
  std::mt19937_64 shuffle;  // data order
  std::mt19937_64 masking;  // masked-language-model pre-training: which tokens are masked
  double best_value = 0;    // early stopping: best metric so far, and when
  int64_t best_epoch = 0;
  int64_t bad_epochs = 0;
  double loss_scale = 65536.0;
  // Per-epoch history for the learning-curve images: "train_loss", "val_loss", ...
  std::map<std::string, std::vector<double>> history;
};

void SaveCheckpoint(const std::string& path, Network& network, torch::optim::Optimizer& optimizer,
                    const TrainState& state);
// Throws StageError when the file is unreadable, was changed since it was written, or
// does not fit the network.
void LoadCheckpoint(const std::string& path, Network& network, torch::optim::Optimizer& optimizer, TrainState& state);

// Writes a file that a resumed run reads back: `save` writes it under a temporary name,
// its SHA-256 goes to PATH.sha256, and both are renamed into place.
void SaveWithDigest(const std::string& path, const std::function<void(const std::string&)>& save);
// Throws StageError unless PATH has the digest SaveWithDigest recorded (a file from a
// sluice that recorded none is accepted).
void VerifyDigest(const std::string& path);

}  // namespace sluice::trainer

#endif  // SLUICE_PLUGINS_TRAINER_CHECKPOINT_HPP_
