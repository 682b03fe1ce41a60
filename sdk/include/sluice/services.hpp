// Host services: what a stage may ask of the host beyond the core StageContext (the run
// it belongs to, checkpoints, the model registry), looked up by name and version:
//
//   if (auto* checkpoints = ctx.Service<sluice::CheckpointsV1>()) { ... }
//   sluice::ModelRegistryV1& registry = ctx.RequireService<sluice::ModelRegistryV1>();
//
// The versioning rule (see also sluice/abi.h): a published service version is frozen.
// Its methods never change, are never reordered and none is added; a new capability is a
// new service, or a new version of one (ModelRegistryV2 beside V1), which a host of a
// later SDK minor adds while still offering the old versions. A plugin asks for the
// version it was written against; on an older host that lacks it, Service<> returns null
// and RequireService<> fails the stage saying which sluice provides it.
//
// Ownership: the host owns every service object; a pointer or reference to one is valid
// until the stage's Run returns. Strings and vectors returned are the caller's copies.
#ifndef SLUICE_SERVICES_HPP_
#define SLUICE_SERVICES_HPP_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/export.h"
#include "sluice/status.hpp"

namespace sluice {

// A model resolved by ModelRegistryV1::Resolve.
struct ModelReference {
  std::string weights;      // a LibTorch archive of the network's parameters
  std::string bundle;       // the bundle folder, when the reference named a registered model
  std::string run_id;       // the run that trained it
  std::string description;  // e.g. "run 3f9a... (stage train)" or "credit-risk v3"
};

// What a bundle stage asks the host to register (see ModelRegistryV1::Register).
struct ModelRegistration {
  std::string name;        // registry name, e.g. "credit-risk"
  std::string bundle_dir;  // a folder written under ScratchDir(), with manifest.json
  std::string description;
};

// "run-info" v1 (SDK 1.0): the run this stage belongs to.
class SLUICE_API RunInfoV1 {
 public:
  static constexpr const char* kName = "run-info";
  static constexpr uint32_t kVersion = 1;

  // The run's id (16 hex digits).
  virtual const std::string& run_id() const = 0;
  // Records a fact about where the run executed (e.g. "device" = "cuda:0").
  virtual void SetEnvironment(std::string_view key, std::string_view value) = 0;
  // The latest value of each metric the run has logged so far, keyed "stage.metric".
  virtual std::vector<std::pair<std::string, double>> Metrics() = 0;

 protected:
  ~RunInfoV1() = default;
};

// "checkpoints" v1 (SDK 1.0): files that survive an interruption of the run.
class SLUICE_API CheckpointsV1 {
 public:
  static constexpr const char* kName = "checkpoints";
  static constexpr uint32_t kVersion = 1;

  // A folder that keeps its files across an interruption of this run and is handed to
  // the same stage when the run is resumed (`sluice run --resume`). Removed once the run
  // succeeds.
  virtual std::string Dir() = 0;
  // True when this execution continues an interrupted or crashed run: a stage that
  // checkpoints picks up from Dir().
  virtual bool Resuming() const = 0;

 protected:
  ~CheckpointsV1() = default;
};

// "model-registry" v1 (SDK 1.0): trained weights of other runs, registered models.
class SLUICE_API ModelRegistryV1 {
 public:
  static constexpr const char* kName = "model-registry";
  static constexpr uint32_t kVersion = 1;

  // A run id (or unique prefix) or a registered model (NAME, NAME:VERSION, NAME@ALIAS)
  // to trained weights, checked against the digests the store recorded.
  virtual Status Resolve(std::string_view reference, ModelReference& out) = 0;
  // Copies a bundle folder into the registry under the next version of
  // `registration.name`; returns that version and the registered folder.
  virtual Status Register(const ModelRegistration& registration, int64_t& version, std::string& path) = 0;

 protected:
  ~ModelRegistryV1() = default;
};

// "distributed" v1 (SDK 1.2): this process is one rank of a data-parallel run
// (`sluice run FILE --nproc N`, or `--nnodes M --node-rank R --master ADDR:PORT` across
// hosts). Offered only then: a stage that finds no such service runs alone. Every rank
// executes the whole pipeline; rank 0 records the run, the other ranks' metrics and
// artifacts are discarded. A training stage joins the ranks through c10d: a TCPStore at
// master_address():master_port() (rank 0 serves it) and a process group over it.
// CheckpointsV1::Dir() is rank 0's folder on every rank (across hosts: a shared
// filesystem): the other ranks read it when resuming; only rank 0 writes it.
// Stopping: a rank asked to stop (StageContext::StopRequested) must not simply leave the
// others waiting in a collective. The ranks agree (the trainer sums a flag with its
// gradients) and every rank returns Status::Cancelled after the same step; the run is
// then recorded interrupted, whichever rank was asked.
class SLUICE_API DistributedV1 {
 public:
  static constexpr const char* kName = "distributed";
  static constexpr uint32_t kVersion = 1;

  virtual int rank() const = 0;        // 0 .. world_size() - 1; rank 0 records the run
  virtual int world_size() const = 0;  // ranks in all
  virtual int local_rank() const = 0;  // this rank among those of its host (a CUDA device index)
  virtual const std::string& master_address() const = 0;
  virtual int master_port() const = 0;
  // How long a collective may wait for the other ranks before the stage fails.
  virtual double timeout_seconds() const = 0;

 protected:
  ~DistributedV1() = default;
};

// A value a client sent for one input of one row of a served model (see ServedModel).
struct InferenceValue {
  enum class Kind : uint8_t { kMissing, kNumber, kText, kNumbers };
  Kind kind = Kind::kMissing;
  double number = 0;            // kNumber
  std::string text;             // kText
  std::vector<double> numbers;  // kNumbers: a tensor (an image), flattened row-major
};

// One input of a served model, as clients see it.
struct ServedInput {
  std::string name;            // the column (tables, text), or "pixels" (images)
  std::string datatype;        // the Open Inference Protocol's: "FP64", "FP32" or "BYTES"
  std::vector<int64_t> shape;  // of one row's value: {} for a column, {C, H, W} for an image
};

// What a served model takes and answers (ServedModel::info()).
struct ServedModelInfo {
  std::string task;  // "classification", "regression" or "embedding"
  std::vector<std::string> class_names;
  std::vector<ServedInput> inputs;
  std::string target;        // the column trained on as the label: ignored when a client sends it
  int64_t output_width = 0;  // values per row: class probabilities, 1 (regression), embedding size
  int64_t max_batch = 0;     // most rows one Predict call takes
  std::string precision;     // the arithmetic of its forward pass ("fp32", "bf16"), for clients to see
};

// A model ready to answer requests, made by a serving stage and handed to ServingV1::Serve.
// Predict is called from the host's inference threads: with `sluice serve --threads N`, up
// to N calls at once, so it must be safe to call concurrently (a LibTorch module's forward
// in inference mode is).
class SLUICE_API ServedModel {
 public:
  virtual const ServedModelInfo& info() const = 0;
  // `rows`: one value per info().inputs, in that order; at most info().max_batch of them.
  // `out`: rows x info().output_width values, row-major (probabilities, a regression's
  // value, an embedding). InvalidArgument means the client's input is wrong, and its
  // message names the row (counting from 1) and the column; any other error is the model's.
  virtual Status Predict(const std::vector<std::vector<InferenceValue>>& rows, std::vector<double>& out) = 0;

 protected:
  ~ServedModel() = default;
};

// "serving" v1 (SDK 1.1): `sluice serve` answers HTTP requests with a stage's model.
class SLUICE_API ServingV1 {
 public:
  static constexpr const char* kName = "serving";
  static constexpr uint32_t kVersion = 1;

  // Serves `model` until the host lets it go (a newer version replaced it, the server
  // stopped), then returns; `model` must stay valid until then. Only one call per stage.
  virtual Status Serve(ServedModel& model) = 0;

 protected:
  ~ServingV1() = default;
};

}  // namespace sluice

#endif  // SLUICE_SERVICES_HPP_
