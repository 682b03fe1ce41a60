// mlp: a multilayer perceptron over flattened dense features, with an embedding per
// categorical column of a table.
#include <torch/nn.h>

#include <cstdio>

#include "sluice/plugin.hpp"
#include "sluice/torch.hpp"

namespace {

// Ports, declared once for Describe() and Run().
const sluice::Out<sluice::ModelSpec> kModelOut{"model", "the architecture, built once the data's shape is known"};

// Parameters, declared once for Describe() and Run().
const sluice::Param<std::vector<int64_t>> kHiddenParam{"hidden"};
const sluice::Param<std::string> kActivationParam{"activation"};
const sluice::Param<double> kDropoutParam{"dropout"};
const sluice::Param<int64_t> kEmbeddingDimParam{"embedding_dim"};

using sluice::Status;

torch::nn::AnyModule Activation(const std::string& name) {
  if (name == "gelu") return torch::nn::AnyModule(torch::nn::GELU());
  if (name == "tanh") return torch::nn::AnyModule(torch::nn::Tanh());
  if (name == "sigmoid") return torch::nn::AnyModule(torch::nn::Sigmoid());
  if (name == "leaky_relu") return torch::nn::AnyModule(torch::nn::LeakyReLU());
  return torch::nn::AnyModule(torch::nn::ReLU());
}

// fastai's rule of thumb: min(50, (categories + 1) / 2), unless a width is given.
int64_t EmbeddingWidth(int64_t categories, int64_t given) {
  return given > 0 ? given : std::min<int64_t>(50, (categories + 1) / 2);
}

class MlpNetwork final : public sluice::Network {
 public:
  MlpNetwork(const sluice::InputSchema& schema, const std::vector<int64_t>& hidden, const std::string& activation,
             double dropout, int64_t embedding_dim) {
    int64_t width = schema.num_dense();
    embeddings_ = register_module("embeddings", torch::nn::ModuleList());
    for (int64_t categories : schema.categorical_cardinality) {
      const int64_t w = EmbeddingWidth(categories, embedding_dim);
      embeddings_->push_back(torch::nn::Embedding(categories, w));
      width += w;
    }
    torch::nn::Sequential layers;
    for (int64_t h : hidden) {
      layers->push_back(torch::nn::Linear(width, h));
      layers->push_back(Activation(activation));
      if (dropout > 0) layers->push_back(torch::nn::Dropout(dropout));
      width = h;
    }
    layers->push_back(torch::nn::Linear(width, schema.num_outputs));
    layers_ = register_module("layers", layers);
  }

  torch::Tensor forward(torch::Tensor x) override { return layers_->forward(x.flatten(1)); }

  torch::Tensor Forward(const sluice::Inputs& in) override {
    if (embeddings_->size() == 0) return forward(in.dense);
    std::vector<torch::Tensor> parts = {in.dense.flatten(1)};
    for (size_t c = 0; c < embeddings_->size(); ++c) {
      parts.push_back(
          embeddings_[c]->as<torch::nn::Embedding>()->forward(in.categorical.select(1, static_cast<int64_t>(c))));
    }
    return layers_->forward(torch::cat(parts, 1));
  }

 private:
  torch::nn::ModuleList embeddings_{nullptr};
  torch::nn::Sequential layers_{nullptr};
};

class MlpSpec final : public sluice::ModelSpec {
 public:
  MlpSpec(std::vector<int64_t> hidden, std::string activation, double dropout, int64_t embedding_dim)
      : hidden_(std::move(hidden)),
        activation_(std::move(activation)),
        dropout_(dropout),
        embedding_dim_(embedding_dim) {}

  std::shared_ptr<sluice::Network> Build(const sluice::InputSchema& schema) const override {
    if (sluice::IsText(schema)) throw sluice::StageError("mlp takes tables and images; for text use transformer");
    return std::make_shared<MlpNetwork>(schema, hidden_, activation_, dropout_, embedding_dim_);
  }

  std::string Describe(const sluice::InputSchema& schema) const override {
    std::string text = "mlp " + std::to_string(schema.num_dense());
    int64_t embedded = 0;
    for (int64_t c : schema.categorical_cardinality) embedded += EmbeddingWidth(c, embedding_dim_);
    if (embedded > 0) text += "+" + std::to_string(embedded) + " (embeddings)";
    for (int64_t h : hidden_) text += "-" + std::to_string(h);
    text += "-" + std::to_string(schema.num_outputs) + " " + activation_;
    if (dropout_ > 0) {
      char buf[32];
      std::snprintf(buf, sizeof buf, " dropout %g", dropout_);
      text += buf;
    }
    return text;
  }

 private:
  std::vector<int64_t> hidden_;
  std::string activation_;
  double dropout_;
  int64_t embedding_dim_;
};

class Mlp final : public sluice::Stage {
 public:
  static sluice::Contract Describe() {
    sluice::Contract c =
        sluice::Contract("mlp", "0.2.0", sluice::Kind::kModel)
            .doc(
                "Multilayer perceptron: flattened features (plus an embedding per categorical column), linear "
                "layers with an activation and dropout")
            .output(kModelOut)
            .param(kHiddenParam.Default({256}).min(1).max(1 << 16).max_items(16).doc(
                "widths of the hidden layers, e.g. [512, 256]; [] for a linear model"))
            .param(kActivationParam.Default("relu")
                       .choices({"relu", "gelu", "tanh", "sigmoid", "leaky_relu"})
                       .doc("activation after each hidden layer"))
            .param(kDropoutParam.Default(0.0).min(0.0).less_than(1.0).doc("dropout after each hidden layer"))
            .param(kEmbeddingDimParam.Default(0).range(0, 1024).doc(
                "width of each categorical column's embedding (0: min(50, (categories + 1) / 2))"));
    return sluice::AddInitParams(c);
  }

  Status Run(sluice::StageContext& ctx) override {
    const sluice::Params& p = ctx.params();
    auto spec = std::make_shared<MlpSpec>(kHiddenParam.Get(p), kActivationParam.Get(p), kDropoutParam.Get(p),
                                          kEmbeddingDimParam.Get(p));
    sluice::ReadInitParams(ctx, *spec);
    kModelOut.Set(ctx, std::move(spec));
    return Status::Ok();
  }
};

}  // namespace

SLUICE_PLUGIN(Mlp)
