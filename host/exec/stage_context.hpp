// The host's side of sluice::StageContext: what a plugin's stage talks to while it runs.
// Every method is noexcept towards the plugin: a store failure is remembered, makes
// StopRequested() true, and fails the stage once it returns.
#ifndef SLUICE_HOST_EXEC_STAGE_CONTEXT_HPP_
#define SLUICE_HOST_EXEC_STAGE_CONTEXT_HPP_

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pipeline/resolved.hpp"
#include "progress.hpp"
#include "run_store.hpp"
#include "sluice/stage.hpp"

namespace sluice::exec {

using PortValues = std::map<std::string, std::shared_ptr<PortValue>, std::less<>>;  // "stage.port"

// Watches one metric ("stage.metric") as it is logged; `decide` returning true stops the
// run early (a sweep pruning a trial that is not going anywhere). Points logged before
// the call are in the store by then, so other processes' trials see them.
struct PruneWatch {
  std::string key;
  std::function<bool(int64_t step, double value)> decide;
};

// The core context, and the services of this host (SDK 1.0): run-info v1, checkpoints v1,
// model-registry v1.
class HostStageContext final : public StageContext, public RunInfoV1, public CheckpointsV1, public ModelRegistryV1 {
 public:
  HostStageContext(const pipeline::ResolvedStage& stage, const std::string& run_id, bool resuming,
                   store::RunStore& store, store::MetricWriter& metrics, ProgressView& view, PortValues& values);

  const std::string& stage_name() const override { return stage_.name; }
  const Params& params() const override { return stage_.params; }
  uint64_t seed() const override { return stage_.seed; }
  std::shared_ptr<PortValue> InputValue(std::string_view port) const override;
  void SetOutput(std::string_view port, std::shared_ptr<PortValue> value) override;
  void LogMetric(std::string_view key, int64_t step, double value) override;
  Status AddArtifact(std::string_view name, const std::string& file) override;
  std::string ScratchDir() override;
  bool StopRequested() const override;
  void ReportProgress(const Progress& progress) override;
  void Info(std::string_view message) override;
  void* FindService(std::string_view name, uint32_t version) override;

  // RunInfoV1
  const std::string& run_id() const override { return run_id_; }
  void SetEnvironment(std::string_view key, std::string_view value) override;
  std::vector<std::pair<std::string, double>> Metrics() override;
  // CheckpointsV1
  std::string Dir() override;
  bool Resuming() const override { return resuming_; }
  // ModelRegistryV1
  Status Resolve(std::string_view reference, ModelReference& out) override;
  Status Register(const ModelRegistration& registration, int64_t& version, std::string& path) override;

  // A host-side failure during the stage (e.g. the store could not be written).
  const std::optional<std::string>& host_error() const { return host_error_; }

  void set_prune_watch(const PruneWatch* watch) { prune_watch_ = watch; }
  // Checkpoints under ROOT/STAGE instead of this run's folder in the store (the other
  // ranks of a data-parallel run read rank 0's).
  void set_checkpoint_root(std::filesystem::path root) { checkpoint_root_ = std::move(root); }
  // Services the caller offers beyond this host's own (ExecuteOptions::extra_services).
  void set_extra_services(const std::function<void*(std::string_view, uint32_t)>* find) { extra_services_ = find; }
  // The step at which the watch asked to stop, if it did.
  const std::optional<int64_t>& pruned_at() const { return pruned_at_; }

 private:
  const pipeline::ResolvedStage& stage_;
  const std::string& run_id_;
  bool resuming_;
  store::RunStore& store_;
  store::MetricWriter& metrics_;
  ProgressView& view_;
  PortValues& values_;
  std::string key_prefix_;
  std::optional<std::filesystem::path> checkpoint_root_;
  std::string metric_key_;  // reused buffer for "<stage>.<key>"
  std::optional<std::string> host_error_;
  const PruneWatch* prune_watch_ = nullptr;
  const std::function<void*(std::string_view, uint32_t)>* extra_services_ = nullptr;
  std::optional<int64_t> pruned_at_;
};

}  // namespace sluice::exec

#endif  // SLUICE_HOST_EXEC_STAGE_CONTEXT_HPP_
