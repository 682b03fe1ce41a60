// cnn: a configurable convolutional network for images: blocks of convolutions (with
// optional batch norm) and pooling, then dense layers.
#include <torch/nn.h>

#include "sluice/plugin.hpp"
#include "sluice/torch.hpp"

namespace {

// Ports, declared once for Describe() and Run().
const sluice::Out<sluice::ModelSpec> kModelOut{"model", "the architecture, built once the image size is known"};

// Parameters, declared once for Describe() and Run().
const sluice::Param<std::vector<int64_t>> kChannelsParam{"channels"};
const sluice::Param<std::vector<int64_t>> kKernelSizesParam{"kernel_sizes"};
const sluice::Param<int64_t> kConvsPerBlockParam{"convs_per_block"};
const sluice::Param<bool> kBatchNormParam{"batch_norm"};
const sluice::Param<std::string> kPoolingParam{"pooling"};
const sluice::Param<std::vector<int64_t>> kHiddenParam{"hidden"};
const sluice::Param<double> kDropoutParam{"dropout"};
const sluice::Param<std::string> kActivationParam{"activation"};

using sluice::Status;
namespace nn = torch::nn;

struct CnnOptions {
  std::vector<int64_t> channels;      // per block
  std::vector<int64_t> kernel_sizes;  // one for all blocks, or one per block
  int64_t convs_per_block = 1;
  bool batch_norm = true;
  std::string pooling = "max";
  std::vector<int64_t> hidden;
  double dropout = 0.0;
  std::string activation = "relu";

  int64_t Kernel(size_t block) const { return kernel_sizes.size() == 1 ? kernel_sizes[0] : kernel_sizes[block]; }
};

nn::AnyModule Activation(const std::string& name) {
  if (name == "gelu") return nn::AnyModule(nn::GELU());
  if (name == "leaky_relu") return nn::AnyModule(nn::LeakyReLU());
  return nn::AnyModule(nn::ReLU());
}

// Output height and width after the blocks; throws when pooling shrinks an image to nothing.
std::pair<int64_t, int64_t> FeatureSize(const CnnOptions& o, int64_t h, int64_t w) {
  for (size_t b = 0; b < o.channels.size(); ++b) {
    if (o.pooling != "none") {
      h /= 2;
      w /= 2;
    }
    if (h < 1 || w < 1) {
      throw sluice::StageError("cnn: " + std::to_string(o.channels.size()) +
                               " pooled blocks are too many for this image size; use fewer channels entries or "
                               "pooling = \"none\"");
    }
  }
  return {h, w};
}

class CnnNetwork final : public sluice::Network {
 public:
  CnnNetwork(const sluice::InputSchema& schema, const CnnOptions& o) {
    const int64_t in_channels = schema.sample_shape[0];
    nn::Sequential features;
    int64_t channels = in_channels;
    for (size_t b = 0; b < o.channels.size(); ++b) {
      for (int64_t c = 0; c < o.convs_per_block; ++c) {
        const int64_t k = o.Kernel(b);
        features->push_back(
            nn::Conv2d(nn::Conv2dOptions(channels, o.channels[b], k).padding(k / 2).bias(!o.batch_norm)));
        if (o.batch_norm) features->push_back(nn::BatchNorm2d(o.channels[b]));
        features->push_back(Activation(o.activation));
        channels = o.channels[b];
      }
      if (o.pooling == "max") features->push_back(nn::MaxPool2d(2));
      if (o.pooling == "avg") features->push_back(nn::AvgPool2d(2));
    }
    features->push_back(nn::Flatten());
    const auto [h, w] = FeatureSize(o, schema.sample_shape[1], schema.sample_shape[2]);
    int64_t width = channels * h * w;
    nn::Sequential head;
    if (o.dropout > 0) head->push_back(nn::Dropout(o.dropout));
    for (int64_t hidden : o.hidden) {
      head->push_back(nn::Linear(width, hidden));
      head->push_back(Activation(o.activation));
      if (o.dropout > 0) head->push_back(nn::Dropout(o.dropout));
      width = hidden;
    }
    head->push_back(nn::Linear(width, schema.num_outputs));
    features_ = register_module("features", features);
    head_ = register_module("head", head);
  }

  torch::Tensor forward(torch::Tensor x) override { return head_->forward(features_->forward(x)); }

 private:
  nn::Sequential features_{nullptr}, head_{nullptr};
};

class CnnSpec final : public sluice::ModelSpec {
 public:
  explicit CnnSpec(CnnOptions options) : o_(std::move(options)) {}

  std::shared_ptr<sluice::Network> Build(const sluice::InputSchema& schema) const override {
    Check(schema);
    return std::make_shared<CnnNetwork>(schema, o_);
  }

  std::string Describe(const sluice::InputSchema& schema) const override {
    std::string text = "cnn";
    for (size_t b = 0; b < o_.channels.size(); ++b) {
      text += " " + std::to_string(o_.convs_per_block) + "x" + std::to_string(o_.channels[b]) + "@" +
              std::to_string(o_.Kernel(b)) + "x" + std::to_string(o_.Kernel(b));
    }
    text += o_.batch_norm ? " +bn" : "";
    text += o_.pooling == "none" ? "" : " " + o_.pooling + "pool";
    for (int64_t h : o_.hidden) text += " -" + std::to_string(h);
    return text + " -" + std::to_string(schema.num_outputs);
  }

 private:
  void Check(const sluice::InputSchema& schema) const {
    if (sluice::IsText(schema)) throw sluice::StageError("cnn takes images; for text use transformer");
    if (schema.sample_shape.size() != 3) {
      throw sluice::StageError("cnn needs images (channels x height x width); this data has " +
                               std::to_string(schema.sample_shape.size()) + "-d samples (use mlp for tables)");
    }
    if (!schema.categorical_cardinality.empty()) throw sluice::StageError("cnn does not take categorical columns");
    FeatureSize(o_, schema.sample_shape[1], schema.sample_shape[2]);
  }

  CnnOptions o_;
};

class Cnn final : public sluice::Stage {
 public:
  static sluice::Contract Describe() {
    sluice::Contract c =
        sluice::Contract("cnn", "0.1.0", sluice::Kind::kModel)
            .doc("Convolutional network for images: conv blocks (batch norm, pooling), then dense layers")
            .output(kModelOut)
            .param(kChannelsParam.Default({32, 64}).min(1).max(4096).min_items(1).max_items(12).doc(
                "output channels of each block"))
            .param(kKernelSizesParam.Default({3}).min(1).max(15).min_items(1).max_items(12).doc(
                "kernel size of the convolutions: one for all blocks, or one per block"))
            .param(kConvsPerBlockParam.Default(1).range(1, 8).doc("convolutions in each block"))
            .param(kBatchNormParam.Default(true).doc("batch normalization after each convolution"))
            .param(kPoolingParam.Default("max").choices({"max", "avg", "none"}).doc("2x2 pooling after each block"))
            .param(
                kHiddenParam.Default({128}).min(1).max(1 << 16).max_items(8).doc("dense layers after the convolutions"))
            .param(kDropoutParam.Default(0.25).min(0).less_than(1).doc("dropout before each dense layer"))
            .param(kActivationParam.Default("relu").choices({"relu", "gelu", "leaky_relu"}).doc("activation"));
    return sluice::AddInitParams(c);
  }

  Status Run(sluice::StageContext& ctx) override {
    const sluice::Params& p = ctx.params();
    CnnOptions o;
    o.channels = kChannelsParam.Get(p);
    o.kernel_sizes = kKernelSizesParam.Get(p);
    if (o.kernel_sizes.size() != 1 && o.kernel_sizes.size() != o.channels.size()) {
      return Status::InvalidArgument("kernel_sizes has " + std::to_string(o.kernel_sizes.size()) + " entries for " +
                                     std::to_string(o.channels.size()) + " blocks (give one, or one per block)");
    }
    for (int64_t k : o.kernel_sizes) {
      if (k % 2 == 0) return Status::InvalidArgument("kernel sizes must be odd (got " + std::to_string(k) + ")");
    }
    o.convs_per_block = kConvsPerBlockParam.Get(p);
    o.batch_norm = kBatchNormParam.Get(p);
    o.pooling = kPoolingParam.Get(p);
    o.hidden = kHiddenParam.Get(p);
    o.dropout = kDropoutParam.Get(p);
    o.activation = kActivationParam.Get(p);
    auto spec = std::make_shared<CnnSpec>(std::move(o));
    sluice::ReadInitParams(ctx, *spec);
    kModelOut.Set(ctx, std::move(spec));
    return Status::Ok();
  }
};

}  // namespace

SLUICE_PLUGIN(Cnn)
