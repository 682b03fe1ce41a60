// The tensor-level port types plugins exchange. Linking SluiceSDK::torch pulls in
// LibTorch; the host itself never includes this header (it never loads LibTorch
// unless a pipeline runs).
#ifndef SLUICE_TORCH_HPP_
#define SLUICE_TORCH_HPP_

#include <torch/nn/module.h>
#include <torch/types.h>
#include <torch/version.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/config.h"
#include "sluice/contract.hpp"
#include "sluice/export.h"
#include "sluice/stage.hpp"

static_assert(TORCH_VERSION_MAJOR == SLUICE_TORCH_VERSION_MAJOR && TORCH_VERSION_MINOR == SLUICE_TORCH_VERSION_MINOR,
              "this plugin is compiled against another LibTorch than the Sluice SDK; point "
              "CMAKE_PREFIX_PATH at the LibTorch the SDK was built with");

namespace sluice {

// Whether a dataset's targets are classes or numbers, or, for an unlabeled corpus (text to
// pre-train on), that it has none; a model trained on such data (an encoder) predicts
// embeddings. kNone is SDK 1.1: a plugin that needs labels refuses it by name.
enum class Task { kClassification, kRegression, kNone };
SLUICE_API const char* TaskName(Task task);  // "classification" | "regression" | "none"

// One split of a dataset. Dense features are kept compact (uint8 images stay uint8) and
// converted per batch by TensorDataset::Rows / Range.
struct Split {
  torch::Tensor features;     // [N, sample_shape...], uint8 or float32, on the CPU
  torch::Tensor categorical;  // [N, C] int64 category codes for embeddings, or undefined
  torch::Tensor targets;      // [N]: int64 class indices, or float32 values (regression)
  int64_t size() const { return targets.defined() ? targets.size(0) : 0; }
};

// --- Preprocessing: how raw records become a dataset's tensors ----------------------
//
// A dataset carries it (TensorDataset::preprocessing), every model trained on it keeps
// it, a bundle stores it, and `sluice predict` applies it to new records. JSON, one of
// the kinds of format version 1 (sdk/GUIDE.md, "Preprocessing", documents every field):
//   "image": pixels of images shaped `shape` (C, H, W), as x * input_scale, minus mean,
//            over std;
//   "table": the columns a model reads and how each becomes features (what the csv and
//            arff plugins fit: sluice's tabular preprocessing);
//   "text":  the text column and the tokenizer (its whole vocabulary) that turn a text
//            into token ids, and the maximum length (what the text plugin makes).
// Each carries "kind" and "format_version"; a reader refuses a newer version by name.
inline constexpr int kPreprocessingFormat = 1;
// The "image" kind's JSON. Returns a new string the caller owns.
SLUICE_API std::string ImagePreprocessing(const std::vector<int64_t>& shape, double input_scale, double mean,
                                          double std, const std::vector<std::string>& class_names);
// One numeric column of the "table" kind: a missing value takes `fill`, then the
// feature is (x - shift) / scale.
struct NumericColumn {
  std::string name;
  double fill = 0, shift = 0, scale = 1;
};
// The "table" kind's JSON for a model that reads these numeric columns, in this order, as
// its dense features and predicts column `target`: a class of `class_names` (index
// order), or, when class_names is empty, a value (output * target_scale + target_shift).
// Returns a new string the caller owns.
SLUICE_API std::string NumericTablePreprocessing(const std::vector<NumericColumn>& columns, const std::string& target,
                                                 const std::vector<std::string>& class_names, double target_shift = 0,
                                                 double target_scale = 1);
// Ok when `json` is preprocessing of a known kind and version with its fields, for data
// of this `sample_shape`; otherwise what is wrong.
SLUICE_API Status CheckPreprocessing(const std::string& json, const std::vector<int64_t>& sample_shape);

// What a network consumes: the normalized dense features and, for tables with
// embedded categorical columns, their codes (0 stands for missing or unseen). For text
// data (IsText), `dense` holds int64 token ids instead.
struct SLUICE_API Inputs {
  torch::Tensor dense;        // float32 [B, sample_shape...]; text: int64 token ids [B, L]
  torch::Tensor categorical;  // int64 [B, C], or undefined
  Inputs To(const torch::Device& device, bool non_blocking = false) const;
  Inputs PinMemory() const;
  int64_t size() const { return dense.size(0); }
};

// The shape of a network's inputs and outputs, from the data it is trained on.
struct SLUICE_API InputSchema {
  std::vector<int64_t> sample_shape;             // one sample's dense features, e.g. {1, 28, 28} or {41}
  std::vector<int64_t> categorical_cardinality;  // codes per embedded column (including 0)
  std::vector<std::string> categorical_names;    // the embedded columns' names
  int64_t num_outputs = 0;                       // classes, or 1 for regression
  int64_t num_dense() const;                     // product of sample_shape
};

// --- Text ---------------------------------------------------------------------------
//
// Text data is a TensorDataset too (preprocessing kind "text"): each split's features
// are int64 token ids [N, max_length], a row being [CLS] tokens [SEP] then padding with
// id 0; sample_shape is {max_length}; the schema declares the vocabulary as its one
// embedded column, named kTokensColumn, with the vocabulary's size as cardinality (no
// categorical codes are stored). Networks for text trim each batch to its longest row.
inline constexpr const char* kTokensColumn = "tokens";
inline constexpr int64_t kPaddingId = 0;
// Whether `schema` describes text data (token ids) rather than dense features.
inline bool IsText(const InputSchema& schema) {
  return schema.sample_shape.size() == 1 && schema.categorical_names.size() == 1 &&
         schema.categorical_names[0] == kTokensColumn && schema.categorical_cardinality.size() == 1;
}

// Port type "dataset": train, validation and test splits with the preprocessing fitted
// on the training split. Check() enforces, for every split that has rows: features on the
// CPU, uint8 or float32, shaped [N, sample_shape...]; targets [N], int64 class indices in
// [0, classes) with at least two class_names (classification) or float32 (regression,
// with target_scale > 0); categorical codes int64 [N, C] within their cardinalities when
// there are embedded columns; a training split with rows; preprocessing of a known kind.
class SLUICE_API TensorDataset : public PortValue {
 public:
  static constexpr const char* kPortType = ports::kDataset;  // for In<T>, Out<T>
  ~TensorDataset() override;
  const char* port_type() const override;
  Status Check() const override;

  Task task = Task::kClassification;
  Split train, validation, test;
  std::vector<int64_t> sample_shape;             // one sample's dense features
  std::vector<int64_t> categorical_cardinality;  // per embedded column
  std::vector<std::string> categorical_names;
  std::vector<std::string> class_names;  // one per class (classification)
  std::string target_name;               // e.g. "class" or the label column
  // Rows() computes (features * input_scale - mean) / std; mean and std broadcast
  // against one sample (scalars for images; undefined when features are ready).
  double input_scale = 1.0;
  torch::Tensor mean, std;
  // Regression targets are stored standardized: value = target * target_scale + target_shift.
  double target_shift = 0.0, target_scale = 1.0;
  // How raw records (image files, table rows) become these tensors, as JSON. It travels
  // with every model trained on this data, so prediction applies the same transform.
  std::string preprocessing;

  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
  int64_t num_outputs() const { return task == Task::kRegression ? 1 : task == Task::kNone ? 0 : num_classes(); }
  int64_t num_features() const;  // product of sample_shape
  InputSchema schema() const;
  // "train" | "validation" | "test"; throws StageError for another name.
  const Split& split(std::string_view name) const;
  // Rows `index` (int64 [B]) of `split`, normalized.
  Inputs Rows(const Split& split, const torch::Tensor& index) const;
  // Rows [begin, end) of `split`, normalized.
  Inputs Range(const Split& split, int64_t begin, int64_t end) const;
};

// A network a model plugin builds: maps normalized inputs to logits (or one value per
// row for regression). Dense-only networks implement forward(x); networks that embed
// categorical columns override Forward(inputs) as well.
class SLUICE_API Network : public torch::nn::Module {
 public:
  ~Network() override;
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  virtual torch::Tensor Forward(const Inputs& inputs) { return forward(inputs.dense); }
};

// Port type "model": an architecture, instantiated once the data's shape is known.
class SLUICE_API ModelSpec : public PortValue {
 public:
  static constexpr const char* kPortType = ports::kModel;  // for In<T>, Out<T>
  ~ModelSpec() override;
  const char* port_type() const override;
  // A freshly initialized network (uses the current torch seed).
  virtual std::shared_ptr<Network> Build(const InputSchema& schema) const = 0;
  // A one-line description, e.g. "mlp 784-256-10 relu".
  virtual std::string Describe(const InputSchema& schema) const = 0;

  // Start from trained weights (set by AddInitParams/ReadInitParams): a LibTorch archive
  // of a network's parameters, and name prefixes of parameters to keep frozen.
  std::string init_weights;
  std::string init_from;  // the reference the user gave (run id or NAME[:VERSION|@ALIAS])
  std::vector<std::string> freeze;
};

// Port type "trained-model": a network with trained weights and what it was trained on.
// Check() enforces: a network and the spec that built it; outputs >= 1; as many class
// names as outputs (classification); preprocessing of a known kind.
class SLUICE_API TrainedModel : public PortValue {
 public:
  static constexpr const char* kPortType = ports::kTrainedModel;  // for In<T>, Out<T>
  ~TrainedModel() override;
  const char* port_type() const override;
  Status Check() const override;

  std::shared_ptr<const ModelSpec> spec;
  std::shared_ptr<Network> network;
  Task task = Task::kClassification;
  InputSchema schema;
  std::vector<std::string> class_names;
  std::string target_name;
  std::string preprocessing;                      // JSON, from the dataset (see TensorDataset::preprocessing)
  double target_shift = 0.0, target_scale = 1.0;  // regression: output * scale + shift
  torch::Device device = torch::kCPU;
};

// --- Fine-tuning and transfer -------------------------------------------------------

// Declares `init_from` (a run id, or NAME[:VERSION|@ALIAS] of a registered model) and
// `freeze` (parameter name prefixes) on a model plugin's contract.
SLUICE_API Contract& AddInitParams(Contract& contract);
// Resolves those parameters through the host into `spec`. Throws StageError when the
// reference does not resolve.
SLUICE_API void ReadInitParams(StageContext& ctx, ModelSpec& spec);
// Loads `spec.init_weights` into `network` (parameters whose name and shape match; the
// others keep their fresh values and are reported) and freezes `spec.freeze`.
// Returns a one-line summary for the user, "" when the spec has no initial weights.
SLUICE_API std::string InitializeNetwork(Network& network, const ModelSpec& spec);

// Saves or loads a network's parameters and buffers as a LibTorch archive.
SLUICE_API void SaveWeights(Network& network, const std::string& path);
SLUICE_API void LoadWeights(Network& network, const std::string& path);

// Parses "auto" | "cpu" | "cuda" | "cuda:N" into a device this build can use. "auto" is
// CUDA when this LibTorch has it and a GPU is present. Throws StageError otherwise.
SLUICE_API torch::Device ResolveDevice(const std::string& spec);

}  // namespace sluice

extern "C" {
// Runtime facts for the run's environment record, as a JSON object (LibTorch version,
// CUDA, threads). If threads > 0, first sets LibTorch's intra-op thread count.
// The returned string is owned by the library and valid until the next call.
SLUICE_API const char* sluice_torch_runtime(int threads);
}

#endif  // SLUICE_TORCH_HPP_
