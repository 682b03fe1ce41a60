// The models `sluice serve` holds: each version loaded by running the bundle's model
// plugin and the model-server plugin as a pipeline in a thread of its own (the plugin
// hands its model over through the serving service and keeps it until released), and a
// slot per served name that batches concurrent requests onto the version in use and
// switches versions when a followed alias moves.
#ifndef SLUICE_HOST_SERVE_MODELS_HPP_
#define SLUICE_HOST_SERVE_MODELS_HPP_

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/resolved.hpp"
#include "serve/metrics.hpp"
#include "serve/protocol.hpp"
#include "sluice/services.hpp"

namespace sluice::serve {

// One version of one model, served until the last holder lets it go.
class LoadedModel final : public ServingV1 {
 public:
  // Runs `pipeline` (the bundle's model plugin, then model-server) until the model is
  // handed over; null and `error` when it cannot be served. The plugins stay with the
  // registry `pipeline` was resolved with, which must outlive the model.
  static std::shared_ptr<LoadedModel> Load(pipeline::ResolvedPipeline pipeline, const std::string& label,
                                           int64_t version, std::string& error);
  ~LoadedModel();  // releases the model and waits for its pipeline to finish

  Status Serve(ServedModel& model) override;

  ServedModel& model() const { return *model_; }
  const ServedModelInfo& info() const { return model_->info(); }
  int64_t version() const { return version_; }
  const std::string& label() const { return label_; }

 private:
  LoadedModel() = default;

  pipeline::ResolvedPipeline pipeline_;
  std::string label_;
  int64_t version_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable changed_;
  ServedModel* model_ = nullptr;
  bool released_ = false, finished_ = false;
  std::string error_;
};

struct BatchOptions {
  int64_t max_batch = 64;
  std::chrono::microseconds max_delay{0};
  int threads = 1;
  // LibTorch's threads for each inference thread's forward passes (0: as the process has them;
  // set on each inference thread, so that models served side by side keep their own).
  int intra_op_threads = 0;
};

// Rows from one request, answered together.
struct Job {
  std::shared_ptr<LoadedModel> model;  // the version the rows were read for
  Rows rows;
  std::chrono::steady_clock::time_point arrived;
  // The predictions (rows x output width), or why there are none.
  std::function<void(const Status& status, const LoadedModel& model, std::vector<double>& out)> done;
  // A request of more rows than a batch runs a batch at a time, in turn with the others:
  // the rows answered so far, and their predictions.
  size_t next = 0;
  std::vector<double> out;
};

class ModelSlot {
 public:
  // `reference`: what the user named (a bundle folder, NAME, NAME:V, NAME@ALIAS);
  // `follows`: whether its version may move (NAME, NAME@ALIAS).
  ModelSlot(std::string name, std::string reference, bool follows, std::shared_ptr<LoadedModel> model,
            BatchOptions options, Metrics& metrics);
  ~ModelSlot();

  const std::string& name() const { return name_; }
  const std::string& reference() const { return reference_; }
  bool follows() const { return follows_; }
  std::shared_ptr<LoadedModel> current() const;
  // From now on, new requests go to `model`; those already read finish on the old one.
  void Switch(std::shared_ptr<LoadedModel> model);

  void Submit(std::unique_ptr<Job> job);
  // Answers what is queued, then stops the inference threads.
  void Stop();

 private:
  void Work();
  void RunBatch(std::vector<std::unique_ptr<Job>>& jobs);
  // Runs the next batch of a request larger than one, then queues it again behind the
  // others (or answers it, after its last batch or a failed one).
  void RunPart(std::unique_ptr<Job> job);
  // The rows one forward pass of `model` takes.
  int64_t Chunk(const LoadedModel& model) const;
  // Predicts `rows`, a forward pass per Chunk(); `first` is rows[0]'s index in the
  // client's request, to name the rows of an error as the client counts them.
  Status Predict(const LoadedModel& model, Rows& rows, size_t first, std::vector<double>& out);

  const std::string name_, reference_;
  const bool follows_;
  const BatchOptions options_;
  Metrics& metrics_;
  mutable std::mutex mutex_;
  std::condition_variable queued_;
  std::shared_ptr<LoadedModel> current_;
  std::deque<std::unique_ptr<Job>> queue_;
  int64_t queued_rows_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace sluice::serve

#endif  // SLUICE_HOST_SERVE_MODELS_HPP_
