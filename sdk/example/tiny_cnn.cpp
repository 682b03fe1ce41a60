// example-tiny-cnn: a small convolutional network for image datasets, as a third party
// would write it against the installed Sluice SDK.
//
// A model plugin outputs a sluice::ModelSpec: the trainer calls Build() once it knows the
// data's shape, and trains whatever network comes back.
#include <torch/nn.h>

#include "sluice/plugin.hpp"
#include "sluice/torch.hpp"

namespace {

class TinyCnn final : public sluice::Network {
 public:
  TinyCnn(int64_t channels, int64_t height, int64_t width, int64_t filters, int64_t classes) {
    namespace nn = torch::nn;
    features_ = register_module(
        "features", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(channels, filters, 3).padding(1)), nn::ReLU(),
                                   nn::MaxPool2d(2), nn::Conv2d(nn::Conv2dOptions(filters, 2 * filters, 3).padding(1)),
                                   nn::ReLU(), nn::MaxPool2d(2), nn::Flatten()));
    head_ = register_module("head", nn::Linear(2 * filters * (height / 4) * (width / 4), classes));
  }
  torch::Tensor forward(torch::Tensor x) override { return head_->forward(features_->forward(x)); }

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Linear head_{nullptr};
};

class TinyCnnSpec final : public sluice::ModelSpec {
 public:
  explicit TinyCnnSpec(int64_t filters) : filters_(filters) {}

  std::shared_ptr<sluice::Network> Build(const sluice::InputSchema& schema) const override {
    const std::vector<int64_t>& shape = schema.sample_shape;
    if (shape.size() != 3) {
      // Thrown inside plugin code: the SDK turns it into the stage's error message.
      throw sluice::StageError("example-tiny-cnn needs images (channels x height x width), not " +
                               std::to_string(shape.size()) + "-d samples");
    }
    return std::make_shared<TinyCnn>(shape[0], shape[1], shape[2], filters_, schema.num_outputs);
  }

  std::string Describe(const sluice::InputSchema& schema) const override {
    const std::vector<int64_t>& shape = schema.sample_shape;
    return "tiny-cnn " + std::to_string(filters_) + "/" + std::to_string(2 * filters_) + " filters, " +
           std::to_string(shape.size() == 3 ? shape[0] : 0) + " channels in, " + std::to_string(schema.num_outputs) +
           " outputs";
  }

 private:
  int64_t filters_;
};

class TinyCnnStage final : public sluice::Stage {
 public:
  // The contract: read by `sluice validate` and `sluice plugins show` without loading
  // this library (sluice_add_plugin embeds it in the .so at build time).
  static sluice::Contract Describe() {
    return sluice::Contract("example-tiny-cnn", "1.0.0", sluice::Kind::kModel)
        .doc("Example plugin: two 3x3 convolutions with max pooling, then a linear layer")
        .output("model", sluice::ports::kModel, "the architecture")
        .param(sluice::IntParam("filters", 8)
                   .range(1, 256)
                   .doc("filters in the first convolution (doubled in the second)"));
  }

  sluice::Status Run(sluice::StageContext& ctx) override {
    ctx.SetOutput("model", std::make_shared<TinyCnnSpec>(ctx.params().Int("filters")));
    return sluice::Status::Ok();
  }
};

}  // namespace

SLUICE_PLUGIN(TinyCnnStage)
