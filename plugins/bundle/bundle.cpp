// bundle: exports a trained model as a self-contained folder (weights, how to rebuild the
// network, the preprocessing, class names, a manifest with the run, metrics and versions)
// and registers it in the store's model registry under a name and the next version.
#include <torch/version.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "sluice/bundle.hpp"
#include "sluice/digest.hpp"
#include "sluice/plugin.hpp"
#include "sluice/torch.hpp"

namespace {

// Ports, declared once for Describe() and Run().
const sluice::In<sluice::TrainedModel> kModelIn{"model", "the trained model"};

// Metrics, declared once for Describe() and Run().
const sluice::MetricSpec kVersion{"version", sluice::Goal::kNone, "the registry version the bundle got"};

// Parameters, declared once for Describe() and Run().
const sluice::Param<std::string> kDescriptionParam{"description"};
const sluice::Param<std::string> kNameParam{"name"};
const sluice::Param<std::string> kExportDirParam{"export_dir"};

using sluice::Status;
namespace fs = std::filesystem;
namespace bundle = sluice::bundle;
using json = nlohmann::ordered_json;

std::string NowIso() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Status WriteJson(const fs::path& path, const json& j) {
  std::ofstream out(path, std::ios::trunc);
  out << j.dump(2) << "\n";
  out.close();
  return out ? Status::Ok()
             : Status::IoError("cannot write " + path.string() + ": " + std::strerror(errno ? errno : EIO));
}

class Bundle final : public sluice::Stage {
 public:
  static sluice::Contract Describe() {
    return sluice::Contract("bundle", "0.1.0", sluice::Kind::kDeploy)
        .doc("Exports a trained model as a self-contained bundle and registers it in the model registry")
        .input(kModelIn)
        .param(kNameParam.Required()
                   .format(sluice::StringFormat::kName)
                   .doc("registry name (letters, digits, - _ .); each bundle gets the next version"))
        .param(kDescriptionParam.Default("").doc("a line about this model"))
        .param(kExportDirParam.Required().optional().doc("also copy the bundle folder here (created if needed)"))
        .metric(kVersion);
  }

  Status Run(sluice::StageContext& ctx) override {
    const sluice::Params& p = ctx.params();
    auto model = kModelIn.Get(ctx);
    if (!model->spec || model->spec->origin.plugin.empty()) {
      return Status::FailedPrecondition("the model does not say which plugin built its architecture");
    }
    const fs::path dir = fs::path(ctx.ScratchDir()) / "bundle";
    fs::create_directories(dir);
    sluice::SaveWeights(*model->network, (dir / bundle::kWeightsFile).string());
    json preprocessing = model->preprocessing.empty() ? json::object() : json::parse(model->preprocessing);
    SLUICE_RETURN_IF_ERROR(WriteJson(dir / bundle::kPreprocessingFile, preprocessing));

    // The architecture is rebuilt at prediction time by running the model plugin again
    // with the same parameters; the starting weights it was given no longer matter.
    json params = json::parse(model->spec->origin.params_json);
    params.erase("init_from");
    params.erase("freeze");
    params.erase("checkpoint");  // transformer: starting weights, as init_from
    json files = json::object();
    for (const char* file : {bundle::kWeightsFile, bundle::kPreprocessingFile}) {
      std::string digest;
      SLUICE_RETURN_IF_ERROR(sluice::Sha256File((dir / file).string(), digest));
      files[file] = digest;
    }
    json metrics = json::object();
    sluice::RunInfoV1& run = ctx.RequireService<sluice::RunInfoV1>();
    for (const auto& [key, value] : run.Metrics()) {
      if (std::isfinite(value)) metrics[key] = value;
    }
    const json manifest = {
        {"format", bundle::kFormatName},
        {"format_version", bundle::kFormatVersion},
        {"description", kDescriptionParam.Get(p)},
        {"created_at", NowIso()},
        {"run_id", run.run_id()},
        {"trained_by_stage", model->origin.stage},
        {"sluice", SLUICE_SDK_VERSION},
        {"toolchain", SLUICE_TOOLCHAIN_KEY},
        {"libtorch", TORCH_VERSION},
        {"task", model->task == sluice::Task::kNone ? "embedding" : sluice::TaskName(model->task)},
        {"target", model->target_name},
        {"class_names", model->class_names},
        {"target_shift", model->target_shift},
        {"target_scale", model->target_scale},
        {"schema",
         {{"sample_shape", model->schema.sample_shape},
          {"categorical_cardinality", model->schema.categorical_cardinality},
          {"categorical_names", model->schema.categorical_names},
          {"num_outputs", model->schema.num_outputs}}},
        {"model",
         {{"plugin", model->spec->origin.plugin},
          {"plugin_version", model->spec->origin.plugin_version},
          {"params", params}}},
        {"input", preprocessing.value("kind", "unknown")},
        {"files", files},
        {"metrics", metrics},
    };
    SLUICE_RETURN_IF_ERROR(WriteJson(dir / bundle::kManifestFile, manifest));

    int64_t version = 0;
    std::string registered;
    SLUICE_RETURN_IF_ERROR(ctx.RequireService<sluice::ModelRegistryV1>().Register(
        sluice::ModelRegistration{kNameParam.Get(p), dir.string(), kDescriptionParam.Get(p)}, version, registered));
    if (kExportDirParam.Has(p)) {
      std::error_code ec;
      const fs::path target(kExportDirParam.Get(p));
      fs::create_directories(target, ec);
      fs::copy(registered, target, fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
      if (ec) return Status::IoError("cannot export the bundle to " + target.string() + ": " + ec.message());
    }
    for (const char* file : {bundle::kManifestFile, bundle::kWeightsFile, bundle::kPreprocessingFile}) {
      SLUICE_RETURN_IF_ERROR(ctx.AddArtifact(file, (dir / file).string()));
    }
    ctx.Log(kVersion, 0, static_cast<double>(version));
    ctx.Info("registered " + kNameParam.Get(p) + " v" + std::to_string(version) + " (" + registered + ")");
    return Status::Ok();
  }
};

}  // namespace

SLUICE_PLUGIN(Bundle)
