#include "mlm.hpp"

#include <algorithm>

namespace sluice::text {
namespace nn = torch::nn;

torch::Tensor MaskTokens(const torch::Tensor& ids, const Masking& m, std::mt19937_64& rng, torch::Tensor& labels) {
  torch::Tensor in = ids.to(torch::kInt64).contiguous().clone();
  labels = torch::full_like(in, -100);
  int64_t* x = in.data_ptr<int64_t>();
  int64_t* y = labels.data_ptr<int64_t>();
  const int64_t n = in.numel();
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::uniform_int_distribution<int64_t> token(0, m.vocab_size - 1);
  auto ordinary = [&](int64_t id) {
    return id != kPaddingId && std::find(m.special.begin(), m.special.end(), id) == m.special.end();
  };
  auto choose = [&](int64_t i) {
    y[i] = x[i];
    const double r = u(rng);
    if (r < m.to_mask) {
      x[i] = m.mask_id;
    } else if (r < m.to_mask + m.to_random) {
      x[i] = token(rng);
    }
  };
  int64_t chosen = 0, candidates = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (!ordinary(x[i])) continue;
    ++candidates;
    if (u(rng) < m.probability) {
      choose(i);
      ++chosen;
    }
  }
  if (chosen == 0 && candidates > 0) {  // a short batch: still one prediction
    int64_t k = std::uniform_int_distribution<int64_t>(0, candidates - 1)(rng);
    for (int64_t i = 0; i < n; ++i) {
      if (ordinary(x[i]) && k-- == 0) {
        choose(i);
        break;
      }
    }
  }
  return in;
}

MlmNetwork::MlmNetwork(const BertConfig& config) {
  BertConfig c = config;
  c.num_labels = 0;
  encoder_ = register_module("encoder", std::make_shared<BertNetwork>(c));
  auto predictions = register_module("cls", std::make_shared<nn::Module>())
                         ->register_module("predictions", std::make_shared<nn::Module>());
  auto transform = predictions->register_module("transform", std::make_shared<nn::Module>());
  transform_ = transform->register_module("dense", nn::Linear(c.hidden_size, c.hidden_size));
  norm_ = transform->register_module("LayerNorm",
                                     nn::LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
  bias_ = predictions->register_parameter("bias", torch::zeros({c.vocab_size}));
  word_embeddings_ = encoder_->named_parameters()["bert.embeddings.word_embeddings.weight"];
  torch::NoGradGuard no_grad;
  transform_->weight.normal_(0.0, 0.02);
  transform_->bias.zero_();
}

torch::Tensor MlmNetwork::Loss(const torch::Tensor& ids, const torch::Tensor& labels, int64_t* correct,
                               int64_t* chosen) {
  torch::Tensor mask;
  torch::Tensor h = encoder_->Encode(ids, mask);  // trimmed to the longest row
  torch::Tensor y = labels.slice(1, 0, h.size(1)).reshape({-1});
  torch::Tensor where = y.ne(-100).nonzero().reshape({-1});
  torch::Tensor picked = h.reshape({-1, h.size(2)}).index_select(0, where);
  torch::Tensor t = norm_->forward(torch::gelu(transform_->forward(picked)));
  // Tied to the word embeddings, as BERT's decoder is.
  torch::Tensor logits = torch::matmul(t, word_embeddings_.t()) + bias_;
  torch::Tensor target = y.index_select(0, where);
  if (correct) *correct = logits.argmax(1).eq(target).sum().item<int64_t>();
  if (chosen) *chosen = target.numel();
  return torch::nn::functional::cross_entropy(logits, target);
}

}  // namespace sluice::text
