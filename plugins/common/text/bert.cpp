#include "bert.hpp"

#include "bert_kernels.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <limits>

namespace sluice::text {
namespace nn = torch::nn;

namespace {

torch::Tensor Dense(const nn::Linear& layer, const torch::Tensor& x) { return Linear(x, layer->weight, layer->bias); }

class Embeddings final : public nn::Module {
 public:
  explicit Embeddings(const BertConfig& c)
      : word_(register_module("word_embeddings", nn::Embedding(c.vocab_size, c.hidden_size))),
        position_(register_module("position_embeddings", nn::Embedding(c.max_position_embeddings, c.hidden_size))),
        token_type_(register_module("token_type_embeddings", nn::Embedding(c.type_vocab_size, c.hidden_size))),
        norm_(register_module("LayerNorm", nn::LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)))),
        dropout_(c.hidden_dropout_prob) {}

  torch::Tensor forward(const torch::Tensor& ids) {
    const int64_t length = ids.size(1);
    torch::Tensor positions = torch::arange(length, ids.options());
    torch::Tensor segments = torch::zeros_like(ids);
    torch::Tensor x = word_->forward(ids) + position_->forward(positions).unsqueeze(0) + token_type_->forward(segments);
    return Dropout(norm_->forward(x), dropout_, is_training());
  }

 private:
  nn::Embedding word_, position_, token_type_;
  nn::LayerNorm norm_;
  double dropout_;
};

class SelfAttention final : public nn::Module {
 public:
  explicit SelfAttention(const BertConfig& c)
      : heads_(c.num_attention_heads),
        query_(register_module("query", nn::Linear(c.hidden_size, c.hidden_size))),
        key_(register_module("key", nn::Linear(c.hidden_size, c.hidden_size))),
        value_(register_module("value", nn::Linear(c.hidden_size, c.hidden_size))),
        dropout_(c.attention_probs_dropout_prob) {}

  // h [B, L, H]; bias [B, L]: 0 for tokens, the lowest float for padding.
  torch::Tensor forward(const torch::Tensor& h, const torch::Tensor& bias) {
    // In the weights' type: a bfloat16 bundle's h is cast once for the three products, not
    // by autocast once for each.
    const torch::Tensor x = h.to(query_->weight.scalar_type());
    return Attention(Dense(query_, x), Dense(key_, x), Dense(value_, x), bias, heads_, dropout_, is_training());
  }

 private:
  int64_t heads_;
  nn::Linear query_, key_, value_;
  double dropout_;
};

// dense, dropout, then LayerNorm of the sum with the residual (BertSelfOutput, BertOutput).
class ResidualOutput final : public nn::Module {
 public:
  ResidualOutput(const BertConfig& c, int64_t in)
      : dense_(register_module("dense", nn::Linear(in, c.hidden_size))),
        norm_(register_module("LayerNorm", nn::LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)))),
        dropout_(c.hidden_dropout_prob) {}

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& residual) {
    return norm_->forward(Dropout(Dense(dense_, x), dropout_, is_training()) + residual);
  }

 private:
  nn::Linear dense_;
  nn::LayerNorm norm_;
  double dropout_;
};

class Attention final : public nn::Module {
 public:
  explicit Attention(const BertConfig& c)
      : self_(register_module("self", std::make_shared<SelfAttention>(c))),
        output_(register_module("output", std::make_shared<ResidualOutput>(c, c.hidden_size))) {}
  torch::Tensor forward(const torch::Tensor& h, const torch::Tensor& bias) {
    return output_->forward(self_->forward(h, bias), h);
  }

 private:
  std::shared_ptr<SelfAttention> self_;
  std::shared_ptr<ResidualOutput> output_;
};

class Intermediate final : public nn::Module {
 public:
  explicit Intermediate(const BertConfig& c)
      : dense_(register_module("dense", nn::Linear(c.hidden_size, c.intermediate_size))) {}
  torch::Tensor forward(const torch::Tensor& h) { return torch::gelu(Dense(dense_, h)); }  // exact (erf) GELU

 private:
  nn::Linear dense_;
};

class Layer final : public nn::Module {
 public:
  explicit Layer(const BertConfig& c)
      : attention_(register_module("attention", std::make_shared<Attention>(c))),
        intermediate_(register_module("intermediate", std::make_shared<Intermediate>(c))),
        output_(register_module("output", std::make_shared<ResidualOutput>(c, c.intermediate_size))) {}
  torch::Tensor forward(const torch::Tensor& h, const torch::Tensor& bias) {
    torch::Tensor a = attention_->forward(h, bias);
    return output_->forward(intermediate_->forward(a), a);
  }

 private:
  std::shared_ptr<Attention> attention_;
  std::shared_ptr<Intermediate> intermediate_;
  std::shared_ptr<ResidualOutput> output_;
};

class Encoder final : public nn::Module {
 public:
  explicit Encoder(const BertConfig& c) : layers_(register_module("layer", nn::ModuleList())) {
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers_->push_back(std::make_shared<Layer>(c));
  }
  torch::Tensor forward(torch::Tensor h, const torch::Tensor& bias) {
    for (const auto& layer : *layers_) h = layer->as<Layer>()->forward(h, bias);
    return h;
  }

 private:
  nn::ModuleList layers_;
};

class Pooler final : public nn::Module {
 public:
  explicit Pooler(const BertConfig& c) : dense_(register_module("dense", nn::Linear(c.hidden_size, c.hidden_size))) {}
  torch::Tensor forward(const torch::Tensor& h) { return torch::tanh(dense_->forward(h.select(1, 0))); }

 private:
  nn::Linear dense_;
};

class Model final : public nn::Module {
 public:
  explicit Model(const BertConfig& c)
      : embeddings(register_module("embeddings", std::make_shared<Embeddings>(c))),
        encoder(register_module("encoder", std::make_shared<Encoder>(c))),
        pooler(register_module("pooler", std::make_shared<Pooler>(c))) {}
  std::shared_ptr<Embeddings> embeddings;
  std::shared_ptr<Encoder> encoder;
  std::shared_ptr<Pooler> pooler;
};

// The parameters of the network `c` describes, as a double: a hostile configuration
// overflows no integer.
double ParameterCount(const BertConfig& c) {
  const double h = static_cast<double>(c.hidden_size), i = static_cast<double>(c.intermediate_size);
  const double rows = static_cast<double>(c.vocab_size) + static_cast<double>(c.max_position_embeddings) +
                      static_cast<double>(c.type_vocab_size);
  const double embeddings = rows * h + 2 * h;
  const double layer = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h;
  const double pooler = h * h + h;
  const double head = static_cast<double>(c.num_labels) * (h + 1);
  return embeddings + static_cast<double>(c.num_hidden_layers) * layer + pooler + head;
}

}  // namespace

void CheckConfig(const BertConfig& c) {
  auto positive = [](const char* name, int64_t v) {
    if (v < 1) throw StageError(std::string(name) + " must be at least 1 (got " + std::to_string(v) + ")");
  };
  positive("vocab_size", c.vocab_size);
  positive("hidden_size", c.hidden_size);
  positive("num_hidden_layers", c.num_hidden_layers);
  positive("num_attention_heads", c.num_attention_heads);
  positive("intermediate_size", c.intermediate_size);
  positive("max_position_embeddings", c.max_position_embeddings);
  positive("type_vocab_size", c.type_vocab_size);
  if (c.hidden_size % c.num_attention_heads != 0) {
    throw StageError("hidden_size " + std::to_string(c.hidden_size) + " is not a multiple of num_attention_heads " +
                     std::to_string(c.num_attention_heads));
  }
  if (c.pooling != "cls" && c.pooling != "mean") throw StageError("pooling must be cls or mean, not " + c.pooling);
  // A configuration read from a file may describe a network no machine holds: refused
  // here, before LibTorch asks for petabytes (or the kernel's OOM killer ends the process
  // while the weights are first written).
  const double parameters = ParameterCount(c), bytes = parameters * sizeof(float);
  const double memory = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
  if (memory > 0 && bytes > memory) {
    char text[160];
    std::snprintf(text, sizeof text,
                  "about %.3g parameters (%.3g GB of float32 weights), more than this machine's %.3g GB", parameters,
                  bytes / 1e9, memory / 1e9);
    throw StageError("the configuration describes a network of " + std::string(text));
  }
}

BertNetwork::BertNetwork(const BertConfig& config) : config_(config) {
  CheckConfig(config_);
  bert_ = register_module("bert", std::make_shared<Model>(config_));
  if (config_.num_labels > 0) {
    dropout_ = register_module("dropout", nn::Dropout(config_.hidden_dropout_prob));
    classifier_ = register_module("classifier", nn::Linear(config_.hidden_size, config_.num_labels));
  }
  // Hugging Face's initialization: normal(0, 0.02) weights, zero biases, unit LayerNorms.
  torch::NoGradGuard no_grad;
  for (auto& p : named_parameters()) {
    const std::string& name = p.key();
    if (name.find("LayerNorm") != std::string::npos) {
      p.value().fill_(name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0 ? 1.0 : 0.0);
    } else if (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0) {
      p.value().zero_();
    } else {
      p.value().normal_(0.0, 0.02);
    }
  }
}

torch::Tensor BertNetwork::Encode(const torch::Tensor& input, torch::Tensor& mask) {
  auto* model = static_cast<Model*>(bert_.get());
  torch::Tensor ids = input.to(torch::kInt64);
  // Trim to the longest row: padding is only at the end.
  mask = ids.ne(kPaddingId);
  const int64_t length = std::max<int64_t>(1, mask.sum(1).max().item<int64_t>());
  if (length > config_.max_position_embeddings) {
    throw StageError("a text of " + std::to_string(length) + " tokens is longer than the model's " +
                     std::to_string(config_.max_position_embeddings) + " positions");
  }
  if (length < ids.size(1)) {
    ids = ids.slice(1, 0, length);
    mask = mask.slice(1, 0, length);
  }
  torch::Tensor h = model->embeddings->forward(ids);
  torch::Tensor bias = mask.logical_not().to(h.scalar_type()).mul_(std::numeric_limits<float>::lowest());
  return model->encoder->forward(h, bias);
}

torch::Tensor BertNetwork::forward(torch::Tensor ids) {
  torch::Tensor mask;
  torch::Tensor h = Encode(ids, mask);
  if (classifier_) {
    torch::Tensor pooled = static_cast<Model*>(bert_.get())->pooler->forward(h);
    return classifier_->forward(dropout_->forward(pooled));
  }
  torch::Tensor e;
  if (config_.pooling == "mean") {
    torch::Tensor m = mask.unsqueeze(-1).to(h.scalar_type());
    e = h.mul(m).sum(1).div(m.sum(1).clamp_min(1e-9));
  } else {
    e = h.select(1, 0);
  }
  if (config_.normalize) e = e.div(e.norm(2, {1}, /*keepdim=*/true).clamp_min(1e-12));  // as F.normalize
  return e;
}

}  // namespace sluice::text
