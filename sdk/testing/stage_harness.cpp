#include "sluice/testing/stage_harness.hpp"

#include <dlfcn.h>
#include <stdlib.h>

#include <cstdlib>
#include <stdexcept>

#include "sluice/plugin.hpp"

namespace sluice::testing {

namespace fs = std::filesystem;

namespace {

std::string FindLibrary(const std::string& plugin) {
  if (plugin.find('/') != std::string::npos) return plugin;
  const char* env = std::getenv("SLUICE_PLUGIN_PATH");
  const std::string path = env ? env : "";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) {
      const fs::path candidate = fs::path(path.substr(start, end - start)) / (plugin + ".so");
      std::error_code ec;
      if (fs::is_regular_file(candidate, ec)) return candidate.string();
    }
    start = end + 1;
  }
  throw std::runtime_error("no " + plugin + ".so in the folders of SLUICE_PLUGIN_PATH ('" + path +
                           "'); give the library's path instead");
}

}  // namespace

StageHarness::StageHarness(const std::string& plugin) {
  const std::string file = FindLibrary(plugin);
  // Never closed: a plugin is never unloaded (values it made may outlive the harness).
  void* library = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library) throw std::runtime_error(file + ": cannot load: " + dlerror());
  auto entry = reinterpret_cast<SluicePluginEntryFn>(dlsym(library, SLUICE_PLUGIN_ENTRY));
  if (!entry) throw std::runtime_error(file + ": no entry point '" SLUICE_PLUGIN_ENTRY "' (SLUICE_PLUGIN(...))");
  info_struct_ = entry();
  if (!info_struct_) {
    auto why = reinterpret_cast<const char* (*)()>(dlsym(library, SLUICE_PLUGIN_ERROR_ENTRY));
    throw std::runtime_error(file + ": " + (why ? why() : "the plugin could not describe itself"));
  }
  if (info_struct_->abi_major != SLUICE_ABI_MAJOR || info_struct_->abi_minor > SLUICE_ABI_MINOR) {
    throw std::runtime_error(file + ": built for plugin ABI " + std::to_string(info_struct_->abi_major) + "." +
                             std::to_string(info_struct_->abi_minor) + ", this SDK is " +
                             std::to_string(SLUICE_ABI_MAJOR) + "." + std::to_string(SLUICE_ABI_MINOR));
  }
  if (std::string(info_struct_->toolchain ? info_struct_->toolchain : "") != SLUICE_TOOLCHAIN_KEY) {
    throw std::runtime_error(file + ": built with toolchain '" + info_struct_->toolchain + "', this SDK uses '" +
                             SLUICE_TOOLCHAIN_KEY "'");
  }
  contract_ = Contract::FromJson(info_struct_->contract);
  stage_ = contract_.name();
  for (const ParamSpec& p : contract_.params()) params_.Set(p.name(), p.default_value());
  if (contract_.FindParam("seed")) params_.Set("seed", int64_t{1});
  std::string pattern = (fs::temp_directory_path() / "sluice-harness-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("cannot make a temporary folder");
  dir_ = pattern;
}

StageHarness::~StageHarness() {
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

StageHarness& StageHarness::Set(const std::string& param, Value value) {
  const ParamSpec* spec = contract_.FindParam(param);
  if (!spec) throw std::invalid_argument("plugin " + stage_ + " has no parameter '" + param + "'");
  const std::vector<std::string> problems = spec->Problems(value);
  if (!problems.empty()) {
    throw std::invalid_argument("plugin " + stage_ + ", parameter '" + param + "': " + problems.front());
  }
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

Status StageHarness::Run() {
  SluiceStatus* status = info_struct_->run_stage(static_cast<StageContext*>(this));
  if (status) {
    Status out(static_cast<Status::Code>(sluice_status_code(status)), sluice_status_message(status));
    sluice_status_free(status);
    return out;
  }
  if (!published_error_.empty()) return Status::Internal(published_error_);
  if (!undeclared_metrics_.empty()) {
    std::string names;
    for (const std::string& n : undeclared_metrics_) names += (names.empty() ? "" : ", ") + n;
    return Status::Internal("plugin " + stage_ + " logged metrics its contract does not declare: " + names);
  }
  for (const PortSpec& out : contract_.outputs()) {
    if (!outputs_.count(out.name))
      return Status::Internal("plugin " + stage_ + " did not set its output '" + out.name + "'");
  }
  return Status::Ok();
}

uint64_t StageHarness::seed() const { return params_.Has("seed") ? static_cast<uint64_t>(params_.Int("seed")) : 1; }

std::vector<std::pair<int64_t, double>> StageHarness::Metric(const std::string& key) const {
  auto it = metrics_.find(key);
  return it == metrics_.end() ? std::vector<std::pair<int64_t, double>>{} : it->second;
}

std::shared_ptr<PortValue> StageHarness::InputValue(std::string_view port) const {
  auto it = inputs_.find(port);
  return it == inputs_.end() ? nullptr : it->second;
}

void StageHarness::SetOutput(std::string_view port, std::shared_ptr<PortValue> value) {
  if (const std::string problem = CheckPublished(contract_, port, value.get());
      !problem.empty() && published_error_.empty()) {
    published_error_ = "plugin " + stage_ + " " + problem;
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
  std::error_code ec;
  if (!fs::exists(file, ec)) return Status::NotFound(file);
  artifacts_[std::string(name)] = file;
  return Status::Ok();
}

std::string StageHarness::ScratchDir() {
  fs::create_directories(dir_ / "scratch");
  return (dir_ / "scratch").string();
}

bool StageHarness::StopRequested() const {
  if (stop_after_ < 0) return false;
  if (stop_after_ == 0) return true;
  --stop_after_;
  return false;
}

void StageHarness::ReportProgress(const Progress&) {}

void StageHarness::Info(std::string_view message) { info_.emplace_back(message); }

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

void StageHarness::SetEnvironment(std::string_view key, std::string_view value) {
  environment_[std::string(key)] = std::string(value);
}

std::vector<std::pair<std::string, double>> StageHarness::Metrics() {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& [key, points] : metrics_) {
    if (!points.empty()) out.emplace_back(stage_ + "." + key, points.back().second);
  }
  return out;
}

std::string StageHarness::Dir() {
  const fs::path dir = checkpoint_dir_.empty() ? dir_ / "checkpoints" : fs::path(checkpoint_dir_);
  fs::create_directories(dir);
  return dir.string();
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
  path = (dir_ / "models" / registration.name / ("v" + std::to_string(version))).string();
  fs::create_directories(path);
  fs::copy(registration.bundle_dir, path, fs::copy_options::recursive);
  versions.push_back(path);
  return Status::Ok();
}

}  // namespace sluice::testing
