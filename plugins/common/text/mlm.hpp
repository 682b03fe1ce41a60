// The masked-language-model objective BERT is pre-trained with: 15% of the ordinary tokens
// are chosen; of those 80% become [MASK], 10% a random token, 10% stay; the network
// predicts the chosen tokens' originals through a head tied to the word embeddings
// (Hugging Face's BertForMaskedLM "cls.predictions.*").
#ifndef SLUICE_PLUGINS_COMMON_TEXT_MLM_HPP_
#define SLUICE_PLUGINS_COMMON_TEXT_MLM_HPP_

#include <torch/nn.h>

#include <random>
#include <vector>

#include "bert.hpp"

namespace sluice::text {

struct Masking {
  double probability = 0.15;              // of ordinary tokens (not [CLS], [SEP], padding)
  double to_mask = 0.8, to_random = 0.1;  // the rest stay as they are
  int64_t mask_id = 0, vocab_size = 0;
  std::vector<int64_t> special;  // ids never chosen ([CLS], [SEP]; padding is id 0)
};

// Masks a batch of token ids [B, L]: returns the ids to feed and `labels` [B, L] (the
// original id where chosen, -100 elsewhere). At least one token per batch is chosen.
// Deterministic given `rng`.
torch::Tensor MaskTokens(const torch::Tensor& ids, const Masking& masking, std::mt19937_64& rng, torch::Tensor& labels);

// The encoder with its pre-training head; "encoder.bert.*" are BertNetwork's parameters.
class MlmNetwork final : public Network {
 public:
  explicit MlmNetwork(const BertConfig& config);
  // Sentence embeddings (what the encoder alone computes).
  torch::Tensor forward(torch::Tensor ids) override { return encoder_->forward(ids); }
  // Cross entropy over the chosen tokens, and how many of them the head got right.
  torch::Tensor Loss(const torch::Tensor& ids, const torch::Tensor& labels, int64_t* correct, int64_t* chosen);
  std::shared_ptr<BertNetwork> encoder() const { return encoder_; }

 private:
  std::shared_ptr<BertNetwork> encoder_;
  torch::nn::Linear transform_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
  torch::Tensor bias_;
  torch::Tensor word_embeddings_;  // the encoder's, which the decoder shares
};

}  // namespace sluice::text

#endif  // SLUICE_PLUGINS_COMMON_TEXT_MLM_HPP_
