// The reference for the trainer's orchestration overhead: the same training steps as
// pipelines/fashion_mnist_mlp.toml (data kept as uint8 and normalized per batch, a
// 784-256-10 MLP, AdamW, batch 128, loss read every step, validation every epoch),
// written as a plain LibTorch program with no Sluice in the loop.
//
//   sluice_bench_minimal_loop [epochs] [threads]
// Prints one JSON object with samples_per_sec over the training steps.
#include <ATen/Parallel.h>
#include <malloc.h>
#include <torch/nn.h>
#include <torch/optim.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <random>

#include "idx_reader.hpp"

int main(int argc, char** argv) {
  const int64_t epochs = argc > 1 ? std::atoll(argv[1]) : 3;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  at::set_num_threads(threads);
  // The same allocator settings as `sluice run` (see host/cli/cmd_run.cpp), so that the
  // comparison measures orchestration, not glibc's mmap threshold.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  const std::string dir = "/usr/share/datasets/fashion-mnist/";
  sluice::idx::IdxArray images, labels;
  if (!sluice::idx::ReadIdx(dir + "train-images-idx3-ubyte.gz", 3, images).ok() ||
      !sluice::idx::ReadIdx(dir + "train-labels-idx1-ubyte.gz", 1, labels).ok()) {
    std::fprintf(stderr, "cannot read Fashion-MNIST from %s\n", dir.c_str());
    return 1;
  }
  const int64_t n_all = images.dims[0];
  torch::Tensor x_all = torch::from_blob(images.data.data(), {n_all, 1, 28, 28}, torch::kUInt8).clone();
  torch::Tensor y_all = torch::from_blob(labels.data.data(), {n_all}, torch::kUInt8).to(torch::kInt64);
  std::vector<int64_t> order(static_cast<size_t>(n_all));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(7);
  std::shuffle(order.begin(), order.end(), rng);
  const int64_t n_val = n_all / 10;
  torch::Tensor val_idx = torch::tensor(std::vector<int64_t>(order.begin(), order.begin() + n_val));
  torch::Tensor train_idx = torch::tensor(std::vector<int64_t>(order.begin() + n_val, order.end()));
  torch::Tensor x_train = x_all.index_select(0, train_idx), y_train = y_all.index_select(0, train_idx);
  torch::Tensor x_val = x_all.index_select(0, val_idx), y_val = y_all.index_select(0, val_idx);
  torch::Tensor pixels = x_train.to(torch::kFloat64).mul(1.0 / 255);
  const float mean = static_cast<float>(pixels.mean().item<double>());
  const float stdev = static_cast<float>(pixels.std(false).item<double>());
  auto normalize = [&](const torch::Tensor& raw) {
    return raw.to(torch::kFloat32).mul_(1.0 / 255).sub_(mean).div_(stdev);
  };

  torch::manual_seed(7);
  torch::nn::Sequential model(torch::nn::Flatten(), torch::nn::Linear(784, 256), torch::nn::ReLU(),
                              torch::nn::Linear(256, 10));
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-3).weight_decay(0));
  const int64_t n = x_train.size(0), batch = 128;
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  double train_seconds = 0, loss_sum = 0;
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    model->train();
    std::shuffle(perm.begin(), perm.end(), rng);
    torch::Tensor all = torch::from_blob(perm.data(), {n}, torch::kInt64);
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t begin = 0; begin < n; begin += batch) {
      torch::Tensor idx = all.slice(0, begin, std::min(n, begin + batch));
      torch::Tensor x = normalize(x_train.index_select(0, idx));
      torch::Tensor y = y_train.index_select(0, idx);
      optimizer.zero_grad();
      torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(x), y);
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>();
    }
    train_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    torch::NoGradGuard no_grad;
    model->eval();
    int64_t correct = 0;
    for (int64_t begin = 0; begin < x_val.size(0); begin += 1024) {
      const int64_t end = std::min(x_val.size(0), begin + 1024);
      correct += model->forward(normalize(x_val.slice(0, begin, end)))
                     .argmax(1)
                     .eq(y_val.slice(0, begin, end))
                     .sum()
                     .item<int64_t>();
    }
    std::fprintf(stderr, "epoch %lld: val_accuracy %.4f\n", static_cast<long long>(epoch + 1),
                 static_cast<double>(correct) / static_cast<double>(x_val.size(0)));
  }
  std::printf("{\"samples_per_sec\": %.1f, \"train_seconds\": %.3f, \"threads\": %d}\n",
              static_cast<double>(n * epochs) / train_seconds, train_seconds, at::get_num_threads());
  return 0;
}
