// A BERT encoder with Hugging Face's parameter names (BertForSequenceClassification:
// "bert.embeddings.word_embeddings.weight", ..., "classifier.weight"), so checkpoints map
// one to one. Token, position and segment embeddings; post-LayerNorm layers of multi-head
// self-attention with padding masks and an exact-GELU feed-forward; the pooler; then a
// classification head, or, without one, a sentence embedding pooled from the last layer.
#ifndef SLUICE_PLUGINS_COMMON_TEXT_BERT_HPP_
#define SLUICE_PLUGINS_COMMON_TEXT_BERT_HPP_

#include <torch/nn.h>

#include <string>

#include "sluice/torch.hpp"

namespace sluice::text {

struct BertConfig {
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  double layer_norm_eps = 1e-12;
  int64_t num_labels = 0;       // 0: no head; the network returns sentence embeddings
  std::string pooling = "cls";  // without a head: "cls" (the [CLS] state) or "mean" (over tokens)
  bool normalize = false;       // without a head: scale embeddings to unit length
};

// Throws StageError naming the first inconsistency (heads not dividing the width, ...),
// or a network larger than this machine's memory.
void CheckConfig(const BertConfig& config);

class BertNetwork final : public Network {
 public:
  explicit BertNetwork(const BertConfig& config);
  // Token ids [B, L] (0 pads) to logits [B, num_labels], or embeddings [B, hidden_size].
  torch::Tensor forward(torch::Tensor ids) override;
  // The last layer's states [B, L', H] of ids trimmed to their longest row, and the mask.
  torch::Tensor Encode(const torch::Tensor& ids, torch::Tensor& mask);
  const BertConfig& config() const { return config_; }

 private:
  BertConfig config_;
  std::shared_ptr<torch::nn::Module> bert_;
  torch::nn::Linear classifier_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
};

}  // namespace sluice::text

#endif  // SLUICE_PLUGINS_COMMON_TEXT_BERT_HPP_
