// mlp: a multilayer perceptron over flattened inputs.
#include <torch/nn.h>

#include "sluice/plugin.hpp"
#include "sluice/torch.hpp"

namespace {

using sluice::Status;

class MlpNetwork final : public sluice::Network {
 public:
  MlpNetwork(int64_t inputs, const std::vector<int64_t>& hidden, int64_t outputs, const std::string& activation,
             double dropout) {
    torch::nn::Sequential layers;
    layers->push_back(torch::nn::Flatten());
    int64_t width = inputs;
    for (int64_t h : hidden) {
      layers->push_back(torch::nn::Linear(width, h));
      if (activation == "relu") {
        layers->push_back(torch::nn::ReLU());
      } else if (activation == "gelu") {
        layers->push_back(torch::nn::GELU());
      } else if (activation == "tanh") {
        layers->push_back(torch::nn::Tanh());
      } else if (activation == "sigmoid") {
        layers->push_back(torch::nn::Sigmoid());
      } else {
        layers->push_back(torch::nn::LeakyReLU());
      }
      if (dropout > 0) layers->push_back(torch::nn::Dropout(dropout));
      width = h;
    }
    layers->push_back(torch::nn::Linear(width, outputs));
    layers_ = register_module("layers", layers);
  }

  torch::Tensor forward(torch::Tensor x) override { return layers_->forward(x); }

 private:
  torch::nn::Sequential layers_{nullptr};
};

class MlpSpec final : public sluice::ModelSpec {
 public:
  MlpSpec(std::vector<int64_t> hidden, std::string activation, double dropout)
      : hidden_(std::move(hidden)), activation_(std::move(activation)), dropout_(dropout) {}

  std::shared_ptr<sluice::Network> Build(const std::vector<int64_t>& sample_shape, int64_t num_outputs) const override {
    return std::make_shared<MlpNetwork>(Inputs(sample_shape), hidden_, num_outputs, activation_, dropout_);
  }

  std::string Describe(const std::vector<int64_t>& sample_shape, int64_t num_outputs) const override {
    std::string text = "mlp " + std::to_string(Inputs(sample_shape));
    for (int64_t h : hidden_) text += "-" + std::to_string(h);
    text += "-" + std::to_string(num_outputs) + " " + activation_;
    if (dropout_ > 0) text += " dropout " + std::to_string(dropout_).substr(0, 4);
    return text;
  }

 private:
  static int64_t Inputs(const std::vector<int64_t>& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  std::vector<int64_t> hidden_;
  std::string activation_;
  double dropout_;
};

class Mlp final : public sluice::Stage {
 public:
  static sluice::Contract Describe() {
    return sluice::Contract("mlp", "0.1.0", sluice::Kind::kModel)
        .doc("Multilayer perceptron: flatten, then linear layers with an activation and dropout")
        .output("model", sluice::ports::kModel, "the architecture, built once the data's shape is known")
        .param(sluice::IntListParam("hidden", {256})
                   .min(1)
                   .max(1 << 16)
                   .max_items(16)
                   .doc("widths of the hidden layers, e.g. [512, 256]; [] for a linear model"))
        .param(sluice::ChoiceParam("activation", "relu", {"relu", "gelu", "tanh", "sigmoid", "leaky_relu"})
                   .doc("activation after each hidden layer"))
        .param(sluice::FloatParam("dropout", 0.0).min(0.0).less_than(1.0).doc("dropout after each hidden layer"));
  }

  Status Run(sluice::StageContext& ctx) override {
    const sluice::Params& p = ctx.params();
    ctx.SetOutput("model", std::make_shared<MlpSpec>(p.IntList("hidden"), p.String("activation"), p.Float("dropout")));
    return Status::Ok();
  }
};

}  // namespace

SLUICE_PLUGIN(Mlp)
