#include "stage_context.hpp"

#include <filesystem>

#include "artifact_store.hpp"
#include "integrity.hpp"
#include "interrupt.hpp"

namespace sluice::exec {

namespace fs = std::filesystem;

HostStageContext::HostStageContext(const pipeline::ResolvedStage& stage, const std::string& run_id, bool resuming,
                                   store::RunStore& store, store::MetricWriter& metrics, ProgressView& view,
                                   PortValues& values)
    : stage_(stage),
      run_id_(run_id),
      resuming_(resuming),
      store_(store),
      metrics_(metrics),
      view_(view),
      values_(values),
      key_prefix_(stage.name + ".") {}

std::shared_ptr<PortValue> HostStageContext::InputValue(std::string_view port) const {
  for (const pipeline::ResolvedInput& in : stage_.inputs) {
    if (in.port != port) continue;
    auto it = values_.find(in.from_stage + "." + in.from_port);
    return it == values_.end() ? nullptr : it->second;
  }
  return nullptr;
}

void HostStageContext::SetOutput(std::string_view port, std::shared_ptr<PortValue> value) {
  // A bad value fails the stage that made it, naming it, not the stage that reads it.
  if (const std::string problem = CheckPublished(stage_.plugin->contract, port, value.get());
      !problem.empty() && !host_error_) {
    host_error_ = "plugin " + stage_.plugin->name + " " + stage_.plugin->version + " " + problem;
  }
  if (value) value->origin = {stage_.name, stage_.plugin->name, stage_.plugin->version, stage_.params_json};
  values_[stage_.name + "." + std::string(port)] = std::move(value);
}

void HostStageContext::LogMetric(std::string_view key, int64_t step, double value) {
  if (host_error_) return;
  try {
    metric_key_.assign(key_prefix_).append(key);
    metrics_.Log(metric_key_, step, value);
    if (prune_watch_ && !pruned_at_ && metric_key_ == prune_watch_->key) {
      metrics_.Flush();
      if (prune_watch_->decide(step, value)) pruned_at_ = step;
    }
  } catch (const std::exception& e) {
    host_error_ = std::string("cannot write metrics to the store: ") + e.what();
  }
}

Status HostStageContext::AddArtifact(std::string_view name, const std::string& file) {
  try {
    if (store_.in_memory()) return Status::FailedPrecondition("this store keeps no artifacts (in memory)");
    store::ArtifactRecord record = store::StoreArtifact(store_.dir(), stage_.name, std::string(name), file);
    store_.AddArtifact(run_id_, record);
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::IoError(e.what());
  }
}

void* HostStageContext::FindService(std::string_view name, uint32_t version) {
  if (name == RunInfoV1::kName && version == RunInfoV1::kVersion) return static_cast<RunInfoV1*>(this);
  if (name == CheckpointsV1::kName && version == CheckpointsV1::kVersion) return static_cast<CheckpointsV1*>(this);
  if (name == ModelRegistryV1::kName && version == ModelRegistryV1::kVersion) {
    return static_cast<ModelRegistryV1*>(this);
  }
  return extra_services_ ? (*extra_services_)(name, version) : nullptr;
}

std::string HostStageContext::Dir() {
  fs::path dir = checkpoint_root_     ? *checkpoint_root_ / stage_.name
                 : store_.in_memory() ? fs::temp_directory_path() / ("sluice-" + run_id_) / "checkpoints" / stage_.name
                                      : store_.dir() / "checkpoints" / run_id_ / stage_.name;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec && !host_error_) host_error_ = "cannot create checkpoint folder " + dir.string() + ": " + ec.message();
  return dir.string();
}

Status HostStageContext::Resolve(std::string_view reference, ModelReference& out) {
  const std::string ref(reference);
  try {
    // NAME:VERSION, NAME@ALIAS, or the name of a registered model; otherwise a run id.
    bool is_model = ref.find_first_of(":@") != std::string::npos;
    if (!is_model && !store_.in_memory()) is_model = !store_.ListModels(ref).empty();
    if (is_model) {
      store::ModelRecord model = store_.FindModel(ref);
      SLUICE_RETURN_IF_ERROR(store::VerifyModel(model));
      out.bundle = model.path;
      out.weights = (fs::path(model.path) / "model.pt").string();
      out.run_id = model.run_id.value_or("");
      out.description = "model " + model.name + " v" + std::to_string(model.version);
      return Status::Ok();
    }
    store::RunRecord run = store_.FindRun(ref);
    std::vector<store::ArtifactRecord> artifacts = store_.Artifacts(run.id);
    for (auto it = artifacts.rbegin(); it != artifacts.rend(); ++it) {
      if (it->name != "model") continue;
      SLUICE_RETURN_IF_ERROR(store::VerifyArtifact(run.id, *it));
      out.weights = it->path;
      out.run_id = run.id;
      out.description = "run " + run.id + " (stage " + it->stage + ")";
      return Status::Ok();
    }
    return Status::NotFound("run " + run.id + " has no trained weights (no artifact named 'model'; status " +
                            store::Name(run.status) + ")");
  } catch (const std::exception& e) {
    return Status::NotFound(e.what());
  }
}

Status HostStageContext::Register(const ModelRegistration& registration, int64_t& version, std::string& path) {
  try {
    store::ModelRecord record = store_.RegisterModel(registration.name, run_id_, stage_.name, registration.bundle_dir,
                                                     registration.description);
    version = record.version;
    path = record.path;
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::IoError(e.what());
  }
}

std::vector<std::pair<std::string, double>> HostStageContext::Metrics() {
  std::vector<std::pair<std::string, double>> out;
  try {
    metrics_.Flush();
    for (const store::LatestMetric& m : store_.LatestMetrics(run_id_)) out.emplace_back(m.key, m.value);
  } catch (const std::exception& e) {
    if (!host_error_) host_error_ = std::string("cannot read metrics from the store: ") + e.what();
  }
  return out;
}

std::string HostStageContext::ScratchDir() {
  fs::path dir = store_.in_memory() ? fs::temp_directory_path() / ("sluice-" + run_id_) / stage_.name
                                    : store_.dir() / "tmp" / run_id_ / stage_.name;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec && !host_error_) host_error_ = "cannot create scratch folder " + dir.string() + ": " + ec.message();
  return dir.string();
}

void HostStageContext::SetEnvironment(std::string_view key, std::string_view value) {
  try {
    store_.SetEnvironment(run_id_, {{std::string(key), std::string(value)}});
  } catch (const std::exception& e) {
    if (!host_error_) host_error_ = std::string("cannot write the environment to the store: ") + e.what();
  }
}

bool HostStageContext::StopRequested() const {
  return host_error_.has_value() || pruned_at_.has_value() || exec::StopRequested();
}

void HostStageContext::ReportProgress(const Progress& progress) { view_.Update(stage_.name, progress); }

void HostStageContext::Info(std::string_view message) {
  view_.Message("  " + stage_.name + ": " + std::string(message));
}

}  // namespace sluice::exec
