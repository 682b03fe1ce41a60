#include "stage_context.hpp"

#include <filesystem>

#include "artifact_store.hpp"
#include "interrupt.hpp"

namespace sluice::exec {

namespace fs = std::filesystem;

HostStageContext::HostStageContext(const pipeline::ResolvedStage& stage, const std::string& run_id,
                                   store::RunStore& store, store::MetricWriter& metrics, ProgressView& view,
                                   PortValues& values)
    : stage_(stage),
      run_id_(run_id),
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
  values_[stage_.name + "." + std::string(port)] = std::move(value);
}

void HostStageContext::LogMetric(std::string_view key, int64_t step, double value) {
  if (host_error_) return;
  try {
    metric_key_.assign(key_prefix_).append(key);
    metrics_.Log(metric_key_, step, value);
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

bool HostStageContext::StopRequested() const { return host_error_.has_value() || exec::StopRequested(); }

void HostStageContext::ReportProgress(const Progress& progress) { view_.Update(stage_.name, progress); }

void HostStageContext::Info(std::string_view message) { view_.Line("  " + stage_.name + ": " + std::string(message)); }

}  // namespace sluice::exec
