// idx-images: image classification data from IDX files (MNIST, Fashion-MNIST).
#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

#include <nlohmann/json.hpp>

#include "idx_reader.hpp"
#include "sluice/plugin.hpp"
#include "sluice/torch.hpp"

namespace {

// Ports, declared once for Describe() and Run().
const sluice::Out<sluice::TensorDataset> kDataOut{"data", "train, validation and test splits"};

// Metrics, declared once for Describe() and Run().
const sluice::MetricSpec kTrainSize{"train_size", sluice::Goal::kNone, "training examples"};
const sluice::MetricSpec kValidationSize{"validation_size", sluice::Goal::kNone, "validation examples"};
const sluice::MetricSpec kTestSize{"test_size", sluice::Goal::kNone, "test examples"};

// Parameters, declared once for Describe() and Run().
const sluice::Param<std::string> kTrainImagesParam{"train_images"};
const sluice::Param<std::string> kTrainLabelsParam{"train_labels"};
const sluice::Param<std::string> kTestImagesParam{"test_images"};
const sluice::Param<std::string> kTestLabelsParam{"test_labels"};
const sluice::Param<double> kValFractionParam{"val_fraction"};
const sluice::Param<int64_t> kLimitParam{"limit"};
const sluice::Param<int64_t> kTestLimitParam{"test_limit"};
const sluice::Param<bool> kNormalizeParam{"normalize"};
const sluice::Param<std::vector<std::string>> kClassNamesParam{"class_names"};
const sluice::Param<std::string> kDirParam{"dir"};

using sluice::Status;

class IdxImages final : public sluice::Stage {
 public:
  static sluice::Contract Describe() {
    using sluice::ParamType;
    return sluice::Contract("idx-images", "0.2.0", sluice::Kind::kData)
        .doc("Image classification data from IDX files (MNIST, Fashion-MNIST), split and normalized")
        .output(kDataOut)
        .param(kDirParam.Required().format(sluice::StringFormat::kDirectory).doc("folder holding the four IDX files"))
        .param(kTrainImagesParam.Default("train-images-idx3-ubyte.gz").doc("training images, in dir"))
        .param(kTrainLabelsParam.Default("train-labels-idx1-ubyte.gz").doc("training labels, in dir"))
        .param(kTestImagesParam.Default("t10k-images-idx3-ubyte.gz").doc("test images, in dir"))
        .param(kTestLabelsParam.Default("t10k-labels-idx1-ubyte.gz").doc("test labels, in dir"))
        .param(kValFractionParam.Default(0.1).range(0.0, 0.9).doc(
            "share of the training file held out for validation (seeded split)"))
        .param(kLimitParam.Default(0).min(0).doc("use only the first N training images (0: all)"))
        .param(kTestLimitParam.Default(0).min(0).doc("use only the first N test images (0: all)"))
        .param(kNormalizeParam.Default(true).doc(
            "standardize pixels with the training split's mean and standard deviation"))
        .param(kClassNamesParam.Default({}).doc("a name per class (default: the label numbers)"))
        .param(sluice::SeedParam())
        .metric(kTrainSize)
        .metric(kValidationSize)
        .metric(kTestSize);
  }

  Status Run(sluice::StageContext& ctx) override {
    const sluice::Params& p = ctx.params();
    const std::string dir = kDirParam.Get(p);
    sluice::idx::IdxArray train_x, train_y, test_x, test_y;
    SLUICE_RETURN_IF_ERROR(sluice::idx::ReadIdx(dir + "/" + kTrainImagesParam.Get(p), 3, train_x));
    SLUICE_RETURN_IF_ERROR(sluice::idx::ReadIdx(dir + "/" + kTrainLabelsParam.Get(p), 1, train_y));
    SLUICE_RETURN_IF_ERROR(sluice::idx::ReadIdx(dir + "/" + kTestImagesParam.Get(p), 3, test_x));
    SLUICE_RETURN_IF_ERROR(sluice::idx::ReadIdx(dir + "/" + kTestLabelsParam.Get(p), 1, test_y));
    SLUICE_RETURN_IF_ERROR(CheckPair(train_x, train_y, kTrainImagesParam.Get(p), kTrainLabelsParam.Get(p)));
    SLUICE_RETURN_IF_ERROR(CheckPair(test_x, test_y, kTestImagesParam.Get(p), kTestLabelsParam.Get(p)));
    if (train_x.dims[1] != test_x.dims[1] || train_x.dims[2] != test_x.dims[2]) {
      return Status::InvalidArgument("training images are " + Shape(train_x) + " but test images are " + Shape(test_x));
    }

    auto dataset = std::make_shared<sluice::TensorDataset>();
    const int64_t h = train_x.dims[1], w = train_x.dims[2];
    dataset->sample_shape = {1, h, w};
    torch::Tensor all_x = ToTensor(train_x, {train_x.dims[0], 1, h, w});
    torch::Tensor all_y = ToTensor(train_y, {train_y.dims[0]}).to(torch::kInt64);
    torch::Tensor test_images = ToTensor(test_x, {test_x.dims[0], 1, h, w});
    torch::Tensor test_targets = ToTensor(test_y, {test_y.dims[0]}).to(torch::kInt64);
    if (const int64_t limit = kLimitParam.Get(p); limit > 0 && limit < all_x.size(0)) {
      all_x = all_x.slice(0, 0, limit);
      all_y = all_y.slice(0, 0, limit);
    }
    if (const int64_t limit = kTestLimitParam.Get(p); limit > 0 && limit < test_images.size(0)) {
      test_images = test_images.slice(0, 0, limit);
      test_targets = test_targets.slice(0, 0, limit);
    }

    // Classes: the names given, or one per label value seen.
    const int64_t max_label = std::max(all_y.max().item<int64_t>(), test_targets.max().item<int64_t>());
    std::vector<std::string> names = kClassNamesParam.Get(p);
    if (names.empty()) {
      for (int64_t c = 0; c <= max_label; ++c) names.push_back(std::to_string(c));
    } else if (static_cast<int64_t>(names.size()) <= max_label) {
      return Status::InvalidArgument("class_names has " + std::to_string(names.size()) +
                                     " names but the labels go up to " + std::to_string(max_label));
    }
    dataset->class_names = names;

    // Seeded split of the training file into train and validation.
    const int64_t n = all_x.size(0);
    const auto n_val = static_cast<int64_t>(static_cast<double>(n) * kValFractionParam.Get(p));
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(ctx.seed());
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<int64_t> val_idx(order.begin(), order.begin() + n_val);
    std::vector<int64_t> train_idx(order.begin() + n_val, order.end());
    std::sort(val_idx.begin(), val_idx.end());
    std::sort(train_idx.begin(), train_idx.end());
    auto take = [](const torch::Tensor& t, const std::vector<int64_t>& idx) {
      return t.index_select(0, torch::tensor(idx, torch::kInt64));
    };
    dataset->train = {take(all_x, train_idx), {}, take(all_y, train_idx)};
    dataset->validation = {take(all_x, val_idx), {}, take(all_y, val_idx)};
    dataset->test = {test_images, {}, test_targets};

    dataset->input_scale = 1.0 / 255.0;
    double mean = 0, std = 1;
    if (kNormalizeParam.Get(p)) {
      // Exact statistics from a histogram of the 256 byte values: no float copy of the
      // training split (which would be 8x its size).
      torch::Tensor pixels = dataset->train.features.contiguous();
      const uint8_t* data = pixels.data_ptr<uint8_t>();
      int64_t counts[256] = {};
      for (int64_t i = 0, n_pixels = pixels.numel(); i < n_pixels; ++i) ++counts[data[i]];
      double sum = 0, sum_sq = 0, total = 0;
      for (int v = 0; v < 256; ++v) {
        const double x = v / 255.0, c = static_cast<double>(counts[v]);
        sum += c * x;
        sum_sq += c * x * x;
        total += c;
      }
      mean = sum / total;
      std = std::sqrt(std::max(0.0, sum_sq / total - mean * mean));
      if (std <= 0) std = 1;
      dataset->mean = torch::tensor(static_cast<float>(mean));
      dataset->std = torch::tensor(static_cast<float>(std));
    }
    dataset->target_name = "label";
    // The transform predictions must apply to new images, with the model.
    dataset->preprocessing =
        sluice::ImagePreprocessing(dataset->sample_shape, dataset->input_scale, kNormalizeParam.Get(p) ? mean : 0.0,
                                   kNormalizeParam.Get(p) ? std : 1.0, names);
    char line[256];
    std::snprintf(line, sizeof line,
                  "%lld train, %lld validation, %lld test images of %lldx%lld, %zu classes; pixel mean %.4f std %.4f",
                  static_cast<long long>(dataset->train.size()), static_cast<long long>(dataset->validation.size()),
                  static_cast<long long>(dataset->test.size()), static_cast<long long>(h), static_cast<long long>(w),
                  names.size(), mean, std);
    ctx.Info(line);
    ctx.Log(kTrainSize, 0, static_cast<double>(dataset->train.size()));
    ctx.Log(kValidationSize, 0, static_cast<double>(dataset->validation.size()));
    ctx.Log(kTestSize, 0, static_cast<double>(dataset->test.size()));
    kDataOut.Set(ctx, std::move(dataset));
    return Status::Ok();
  }

 private:
  static std::string Shape(const sluice::idx::IdxArray& a) {
    std::string s;
    for (size_t i = 1; i < a.dims.size(); ++i) s += (i > 1 ? "x" : "") + std::to_string(a.dims[i]);
    return s;
  }

  static Status CheckPair(const sluice::idx::IdxArray& x, const sluice::idx::IdxArray& y, const std::string& x_name,
                          const std::string& y_name) {
    if (x.dims[0] != y.dims[0]) {
      return Status::InvalidArgument(x_name + " holds " + std::to_string(x.dims[0]) + " images but " + y_name +
                                     " holds " + std::to_string(y.dims[0]) + " labels");
    }
    if (x.dims[0] == 0) return Status::InvalidArgument(x_name + " holds no images");
    return Status::Ok();
  }

  static torch::Tensor ToTensor(sluice::idx::IdxArray& a, std::vector<int64_t> shape) {
    // Copy once out of the vector; the vector is freed when the stage returns.
    return torch::from_blob(a.data.data(), shape, torch::kUInt8).clone();
  }
};

}  // namespace

SLUICE_PLUGIN(IdxImages)
