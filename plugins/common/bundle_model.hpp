// A bundle loaded for inference: its network with the trained weights, its preprocessing,
// and the one way inputs become predictions. `sluice predict` (the predictor plugin) and
// `sluice serve` (the model-server plugin) both go through it, so a row gets the same
// numbers from either.
#ifndef SLUICE_PLUGINS_COMMON_BUNDLE_MODEL_HPP_
#define SLUICE_PLUGINS_COMMON_BUNDLE_MODEL_HPP_

#include <torch/types.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "preprocess.hpp"
#include "sluice/status.hpp"
#include "sluice/torch.hpp"
#include "table.hpp"
#include "text_encoding.hpp"

namespace sluice::inference {

// The arithmetic of a forward pass. kBf16: matrix products and convolutions in bfloat16
// (CPU autocast: oneDNN uses AVX-512 BF16 where the CPU has it), reductions, softmax and
// LayerNorm kept in float32, images in channels-last layout; about 2-8x the rows/s of
// float32 here, answers within bfloat16's precision.
enum class Precision { kFp32, kBf16 };
// "fp32" or "bf16" (the plugins' precision parameter); false for anything else.
bool PrecisionFromName(const std::string& name, Precision& out);

class BundleModel {
 public:
  // Reads the bundle's manifest and preprocessing, builds `spec`'s network for the
  // bundle's schema and loads the weights onto `device`.
  static Status Load(const std::filesystem::path& bundle, const ModelSpec& spec, const torch::Device& device,
                     std::unique_ptr<BundleModel>& out, Precision precision = Precision::kFp32);

  enum class InputKind { kTable, kText, kImage };
  InputKind input_kind() const { return kind_; }
  const std::string& task() const { return task_; }  // classification | regression | embedding
  const InputSchema& schema() const { return schema_; }
  const nlohmann::json& manifest() const { return manifest_; }
  // Values per output row: class probabilities, 1 (regression), or the embedding's size.
  int64_t output_width() const;
  // Most rows one Outputs() call should take (attention's memory grows with a text batch).
  int64_t max_batch(int64_t requested) const;

  // Tables: the columns the model reads, and the preprocessing that turns them into features.
  const tabular::Preprocessor& table_preprocessing() const { return *table_; }
  // Text: the tokenizer, its maximum length, the column trained on.
  const text::TextPreprocessing& text_preprocessing() const { return *text_; }
  // Images: {C, H, W}.
  const std::vector<int64_t>& image_shape() const { return schema_.sample_shape; }

  // Features of every row of `table` (found by column name). `notes` gets the columns
  // the model does not read.
  Status TableInputs(const tabular::Table& table, Inputs& out, std::vector<std::string>* notes) const;
  // Token ids of `texts`; counts those truncated to the model's length.
  Inputs TextInputs(const std::vector<std::string>& texts, int64_t* truncated) const;
  // Images [N, C, H, W] of raw pixel values (0..255 for 8-bit images), as float32,
  // normalized in place as the model was trained.
  Inputs ImageInputs(torch::Tensor pixels) const;

  // The predictions of `x` (already on the CPU or the model's device), as float64 on the
  // CPU, [N, output_width()]: softmax probabilities, regression values on the target's
  // scale, or embeddings. Runs in inference mode, at the model's precision, in passes of
  // the rows that run fastest on this CPU (texts sorted by length).
  torch::Tensor Outputs(const Inputs& x) const;

 private:
  int64_t MicroBatch() const;
  torch::Tensor Forward(const Inputs& x) const;  // one pass, inside Outputs' guards

  nlohmann::json manifest_, pre_;
  InputKind kind_ = InputKind::kTable;
  std::string task_;
  InputSchema schema_;
  torch::Device device_ = torch::kCPU;
  Precision precision_ = Precision::kFp32;
  std::shared_ptr<Network> net_;
  std::optional<tabular::Preprocessor> table_;
  std::optional<text::TextPreprocessing> text_;
  double target_shift_ = 0, target_scale_ = 1;
};

}  // namespace sluice::inference

#endif  // SLUICE_PLUGINS_COMMON_BUNDLE_MODEL_HPP_
