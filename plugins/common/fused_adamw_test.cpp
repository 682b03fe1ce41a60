// FusedAdamW against LibTorch's AdamW: the same parameters after several steps, with and
// without weight decay, and checkpoints either can read.
#include "fused_adamw.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>

namespace sluice {
namespace {

struct Net : torch::nn::Module {
  Net() : a(register_module("a", torch::nn::Linear(7, 5))), b(register_module("b", torch::nn::Linear(5, 3))) {}
  torch::Tensor forward(const torch::Tensor& x) { return b->forward(torch::gelu(a->forward(x))); }
  torch::nn::Linear a, b;
};

template <class Optimizer>
std::unique_ptr<Optimizer> Make(Net& net) {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{net.a->weight, net.b->weight},
                      std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(1e-2).weight_decay(0.1)));
  groups.emplace_back(std::vector<torch::Tensor>{net.a->bias, net.b->bias},
                      std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(1e-2).weight_decay(0.0)));
  return std::make_unique<Optimizer>(std::move(groups), torch::optim::AdamWOptions(1e-2));
}

void Train(Net& net, torch::optim::Optimizer& optimizer, int steps) {
  torch::manual_seed(2);
  for (int i = 0; i < steps; ++i) {
    optimizer.zero_grad();
    torch::Tensor x = torch::randn({16, 7});
    net.forward(x).pow(2).mean().backward();
    optimizer.step();
  }
}

double MaxDiff(Net& x, Net& y) {
  double worst = 0;
  auto a = x.parameters(), b = y.parameters();
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, (a[i] - b[i]).abs().max().item<double>());
  return worst;
}

TEST(FusedAdamW, StepsAsLibTorchsAdamW) {
  torch::manual_seed(1);
  Net reference, fused;
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < reference.parameters().size(); ++i) fused.parameters()[i].copy_(reference.parameters()[i]);
  }
  auto ref_opt = Make<torch::optim::AdamW>(reference);
  auto fused_opt = Make<FusedAdamW>(fused);
  Train(reference, *ref_opt, 20);
  Train(fused, *fused_opt, 20);
  EXPECT_GT(reference.a->weight.abs().sum().item<double>(), 0.0);
  // Bit for bit with Debian's LibTorch 1.13; other builds' kernels may round otherwise.
  EXPECT_LT(MaxDiff(reference, fused), 1e-6) << "parameters after 20 steps";
  std::printf("largest difference from LibTorch's AdamW after 20 steps: %g\n", MaxDiff(reference, fused));

  // A checkpoint of the fused optimizer resumes in LibTorch's, and the two stay together.
  std::stringstream saved;
  {
    torch::serialize::OutputArchive archive;
    fused_opt->save(archive);
    archive.save_to(saved);
  }
  auto resumed = Make<torch::optim::AdamW>(fused);
  torch::serialize::InputArchive archive;
  archive.load_from(saved);
  resumed->load(archive);
  EXPECT_EQ(resumed->state().size(), fused_opt->state().size()) << "every parameter's state restored";
  Train(fused, *resumed, 5);
  Train(reference, *ref_opt, 5);
  EXPECT_LT(MaxDiff(reference, fused), 1e-6) << "parameters after resuming in LibTorch's AdamW";

  ClearGradients(*resumed);
  for (const auto& p : fused.parameters()) EXPECT_FALSE(p.grad().defined()) << "gradients dropped";
}

}  // namespace
}  // namespace sluice
