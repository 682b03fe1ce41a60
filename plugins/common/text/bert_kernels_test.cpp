// The CPU kernels of bert_kernels.hpp against LibTorch's operators: the same attention and
// gradients, dropout that drops what it says, deterministic under a seed and any thread count.
#include "bert_kernels.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>

namespace sluice::text {
namespace {

struct Inputs {
  torch::Tensor q, k, v, bias;
};

// Three sequences of 9 positions, 4 heads of 8; the second and third end in padding.
Inputs MakeInputs() {
  torch::manual_seed(11);
  Inputs in;
  in.q = torch::randn({3, 9, 32}).requires_grad_();
  in.k = torch::randn({3, 9, 32}).requires_grad_();
  in.v = torch::randn({3, 9, 32}).requires_grad_();
  torch::Tensor padding = torch::zeros({3, 9}, torch::kBool);
  padding.index_put_({1, torch::indexing::Slice(6)}, true);
  padding.index_put_({2, torch::indexing::Slice(2)}, true);
  in.bias = padding.to(torch::kFloat32).mul_(std::numeric_limits<float>::lowest());
  return in;
}

double MaxDiff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

TEST(BertKernels, AttentionEqualsLibTorchsOperatorsWithTheirGradients) {
  Inputs a = MakeInputs(), b = MakeInputs();
  torch::Tensor w = torch::randn({3, 9, 32});
  torch::Tensor fast = Attention(a.q, a.k, a.v, a.bias, 4, 0.1, /*training=*/false);
  torch::Tensor slow = AttentionReference(b.q, b.k, b.v, b.bias, 4, 0.1, /*training=*/false);
  EXPECT_LT(MaxDiff(fast, slow), 1e-5) << "attention context";
  fast.mul(w).sum().backward();
  slow.mul(w).sum().backward();
  EXPECT_LT(MaxDiff(a.q.grad(), b.q.grad()), 1e-5) << "gradient of the queries";
  EXPECT_LT(MaxDiff(a.k.grad(), b.k.grad()), 1e-5) << "gradient of the keys";
  EXPECT_LT(MaxDiff(a.v.grad(), b.v.grad()), 1e-5) << "gradient of the values";
  // Padded keys get no attention: changing their values changes nothing.
  torch::Tensor v2 = a.v.detach().clone();
  v2.index_put_({1, torch::indexing::Slice(6)}, 100.0);
  v2.requires_grad_();
  EXPECT_LT(MaxDiff(Attention(a.q, a.k, v2, a.bias, 4, 0.0, false), fast), 1e-6);
}

TEST(BertKernels, LinearEqualsLibTorchsWithItsGradients) {
  torch::manual_seed(4);
  torch::Tensor x = torch::randn({3, 5, 24}), w = torch::randn({40, 24}), b = torch::randn({40}),
                g = torch::randn({3, 5, 40});
  for (const bool frozen : {false, true}) {
    for (const bool with_bias : {true, false}) {
      SCOPED_TRACE(std::string(frozen ? "frozen weights" : "trained weights") + (with_bias ? ", bias" : ", no bias"));
      torch::Tensor x1 = x.clone().requires_grad_(), w1 = w.clone().requires_grad_(!frozen),
                    b1 = b.clone().requires_grad_();
      torch::Tensor x2 = x.clone().requires_grad_(), w2 = w.clone().requires_grad_(!frozen),
                    b2 = b.clone().requires_grad_();
      torch::Tensor fast = Linear(x1, w1, with_bias ? b1 : torch::Tensor());
      torch::Tensor slow = torch::linear(x2, w2, with_bias ? b2 : torch::Tensor());
      ASSERT_EQ(fast.sizes(), slow.sizes());
      EXPECT_LT(MaxDiff(fast, slow), 1e-4) << "output";
      fast.mul(g).sum().backward();
      slow.mul(g).sum().backward();
      EXPECT_LT(MaxDiff(x1.grad(), x2.grad()), 1e-4) << "gradient of the input";
      EXPECT_EQ(w1.grad().defined(), !frozen);
      if (!frozen) {
        EXPECT_LT(MaxDiff(w1.grad(), w2.grad()), 1e-4) << "gradient of the weights";
      }
      if (with_bias) {
        EXPECT_LT(MaxDiff(b1.grad(), b2.grad()), 1e-4) << "gradient of the bias";
      }
    }
  }
}

// With dropout the backward pass must use the forward's mask: the gradient along a direction
// equals the change of the output (same seed each time), to float32's finite differences.
// (The kernel runs where gradients are wanted: every evaluation here records them.)
TEST(BertKernels, AttentionDropoutGradientMatchesFiniteDifferences) {
  Inputs in = MakeInputs();
  torch::Tensor w = torch::randn({3, 9, 32}), u = torch::randn({3, 9, 32});
  auto loss = [&](const torch::Tensor& q) {
    torch::manual_seed(5);
    return Attention(q, in.k, in.v, in.bias, 4, 0.3, /*training=*/true).mul(w).sum();
  };
  loss(in.q).backward();
  const double along = in.q.grad().mul(u).sum().item<double>();
  const double eps = 1e-2;
  const double numeric = (loss(in.q + eps * u).item<double>() - loss(in.q - eps * u).item<double>()) / (2 * eps);
  EXPECT_NEAR(along, numeric, 2e-2 * std::max(1.0, std::abs(numeric)));
  // Dropout is on: the same inputs under another seed give another answer.
  torch::manual_seed(6);
  EXPECT_GT(
      MaxDiff(Attention(in.q, in.k, in.v, in.bias, 4, 0.3, true), Attention(in.q, in.k, in.v, in.bias, 4, 0.0, true)),
      1e-3);
}

TEST(BertKernels, DropoutDropsItsShareAndScalesTheRest) {
  torch::manual_seed(1);
  torch::Tensor x = torch::rand({1000, 1000}).add_(1.0).requires_grad_();
  torch::Tensor y = Dropout(x, 0.1, /*training=*/true);
  const double dropped = y.eq(0).to(torch::kFloat64).mean().item<double>();
  EXPECT_NEAR(dropped, 0.1, 0.002) << "share of elements dropped";
  torch::Tensor kept = y.ne(0);
  EXPECT_LT(MaxDiff(y.masked_select(kept), x.masked_select(kept) / 0.9), 1e-6) << "kept elements scaled by 1/(1-p)";
  // The gradient flows through exactly the kept elements, scaled the same.
  y.sum().backward();
  EXPECT_LT(MaxDiff(x.grad(), kept.to(torch::kFloat32) / 0.9), 1e-6);
  // Rows and columns show no pattern: each row drops about its share.
  torch::Tensor per_row = y.eq(0).to(torch::kFloat64).mean(1);
  EXPECT_LT(per_row.max().item<double>(), 0.16);
  EXPECT_GT(per_row.min().item<double>(), 0.04);
  // Not training, or p = 0: the input itself.
  EXPECT_TRUE(Dropout(x, 0.1, false).is_same(x));
  EXPECT_TRUE(Dropout(x, 0.0, true).is_same(x));
}

TEST(BertKernels, DropoutFollowsTheSeedAndNotTheThreadCount) {
  torch::Tensor x = torch::ones({300, 301});
  const int threads = torch::get_num_threads();
  torch::manual_seed(3);
  torch::Tensor a = Dropout(x, 0.25, true);
  torch::set_num_threads(1);
  torch::manual_seed(3);
  torch::Tensor b = Dropout(x, 0.25, true);
  torch::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(a, b)) << "the same seed on one thread and on " << threads;
  torch::Tensor c = Dropout(x, 0.25, true);
  EXPECT_FALSE(torch::equal(a, c)) << "the next draw must differ";
}

}  // namespace
}  // namespace sluice::text
