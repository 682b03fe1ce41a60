#include "stage_harness.hpp"

#include <filesystem>
#include <stdexcept>

#include "exec/stage_context.hpp"
#include "plugin/loader.hpp"
#include "plugin/registry.hpp"

namespace sluice::testing {

StageHarness::StageHarness(const std::string& name, const std::string& plugin_dir) : stage_(name) {
  plugin::PluginRegistry registry({plugin_dir});
  std::string error;
  const plugin::PluginDescriptor* d = registry.Find(name, error);
  if (!d) throw std::runtime_error(error);
  info_struct_ = plugin::LoadPlugin(*d, error);
  if (!info_struct_) throw std::runtime_error(error);
  contract_ = d->contract;
  for (const ParamSpec& p : contract_.params()) params_.Set(p.name(), p.default_value());
  if (contract_.FindParam("seed")) params_.Set("seed", int64_t{1});
}

StageHarness& StageHarness::Set(const std::string& param, Value value) {
  if (!contract_.FindParam(param)) throw std::invalid_argument("plugin " + stage_ + " has no parameter " + param);
  params_.Set(param, std::move(value));
  return *this;
}

StageHarness& StageHarness::Input(const std::string& port, std::shared_ptr<PortValue> value) {
  inputs_[port] = std::move(value);
  return *this;
}

StageHarness& StageHarness::StopAfter(int checks) {
  stop_after_ = checks;
  return *this;
}

StageHarness& StageHarness::Checkpoints(const std::string& dir, bool resuming) {
  checkpoint_dir_ = dir;
  resuming_ = resuming;
  return *this;
}

StageHarness& StageHarness::KnownModel(const std::string& reference, const std::string& weights) {
  models_[reference] = weights;
  return *this;
}

StageHarness& StageHarness::OfferService(const std::string& name, uint32_t version, void* service) {
  extra_services_[{name, version}] = service;
  return *this;
}

StageHarness& StageHarness::WithholdService(const std::string& name) {
  withheld_.push_back(name);
  return *this;
}

void* StageHarness::FindService(std::string_view name, uint32_t version) {
  for (const std::string& w : withheld_) {
    if (w == name) return nullptr;
  }
  if (auto it = extra_services_.find({std::string(name), version}); it != extra_services_.end()) return it->second;
  if (name == RunInfoV1::kName && version == RunInfoV1::kVersion) return static_cast<RunInfoV1*>(this);
  if (name == CheckpointsV1::kName && version == CheckpointsV1::kVersion) return static_cast<CheckpointsV1*>(this);
  if (name == ModelRegistryV1::kName && version == ModelRegistryV1::kVersion) {
    return static_cast<ModelRegistryV1*>(this);
  }
  return nullptr;
}

std::string StageHarness::Dir() {
  const std::string dir = checkpoint_dir_.empty() ? (dir_.path() / "checkpoints").string() : checkpoint_dir_;
  std::filesystem::create_directories(dir);
  return dir;
}

Status StageHarness::Resolve(std::string_view reference, ModelReference& out) {
  auto it = models_.find(std::string(reference));
  if (it == models_.end()) return Status::NotFound("no run matches '" + std::string(reference) + "'");
  out.weights = it->second;
  out.description = "test model " + it->first;
  return Status::Ok();
}

Status StageHarness::Register(const ModelRegistration& registration, int64_t& version, std::string& path) {
  auto& versions = registered_[registration.name];
  version = static_cast<int64_t>(versions.size()) + 1;
  path = (dir_.path() / "models" / registration.name / ("v" + std::to_string(version))).string();
  std::filesystem::create_directories(path);
  std::filesystem::copy(registration.bundle_dir, path, std::filesystem::copy_options::recursive);
  versions.push_back(path);
  return Status::Ok();
}

std::vector<std::pair<std::string, double>> StageHarness::Metrics() {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& [key, points] : metrics_) {
    if (!points.empty()) out.emplace_back(stage_ + "." + key, points.back().second);
  }
  return out;
}

Status StageHarness::Run() {
  SluiceStatus* status = info_struct_->run_stage(static_cast<StageContext*>(this));
  if (!status && !published_error_.empty()) return Status::Internal(published_error_);
  if (!status && !undeclared_metrics_.empty()) {
    std::string names;
    for (const std::string& n : undeclared_metrics_) names += (names.empty() ? "" : ", ") + n;
    return Status::Internal("plugin " + stage_ + " logged metrics its contract does not declare: " + names);
  }
  if (!status) return Status::Ok();
  Status out(static_cast<Status::Code>(sluice_status_code(status)), sluice_status_message(status));
  sluice_status_free(status);
  return out;
}

std::vector<std::pair<int64_t, double>> StageHarness::Metric(const std::string& key) const {
  auto it = metrics_.find(key);
  return it == metrics_.end() ? std::vector<std::pair<int64_t, double>>{} : it->second;
}

std::shared_ptr<PortValue> StageHarness::InputValue(std::string_view port) const {
  auto it = inputs_.find(port);
  return it == inputs_.end() ? nullptr : it->second;
}

void StageHarness::SetOutput(std::string_view port, std::shared_ptr<PortValue> value) {
  if (auto problem = exec::CheckPublished(contract_, port, value.get()); problem && published_error_.empty()) {
    published_error_ = "plugin " + stage_ + " " + *problem;
  }
  outputs_[std::string(port)] = std::move(value);
}

void StageHarness::LogMetric(std::string_view key, int64_t step, double value) {
  auto& series = metrics_[std::string(key)];
  // A plugin that declares its metrics must declare every one it logs.
  if (series.empty() && !contract_.metrics().empty() && !contract_.FindMetric(key)) {
    undeclared_metrics_.emplace_back(key);
  }
  series.emplace_back(step, value);
}

Status StageHarness::AddArtifact(std::string_view name, const std::string& file) {
  if (!std::filesystem::exists(file)) return Status::NotFound(file);
  artifacts_[std::string(name)] = file;
  return Status::Ok();
}

std::string StageHarness::ScratchDir() {
  std::filesystem::create_directories(dir_.path() / "scratch");
  return (dir_.path() / "scratch").string();
}

void StageHarness::SetEnvironment(std::string_view key, std::string_view value) {
  environment_[std::string(key)] = std::string(value);
}

bool StageHarness::StopRequested() const {
  if (stop_after_ < 0) return false;
  if (stop_after_ == 0) return true;
  --stop_after_;
  return false;
}

void StageHarness::ReportProgress(const Progress&) {}

void StageHarness::Info(std::string_view message) { info_.emplace_back(message); }

}  // namespace sluice::testing
