#include "bundles.hpp"

#include <fstream>

#include "integrity.hpp"
#include "pipeline/stored.hpp"
#include "sluice/bundle.hpp"
#include "sluice/excerpt.hpp"

namespace sluice::cli {

namespace fs = std::filesystem;
using json = nlohmann::json;

fs::path ResolveBundle(const std::string& model, const std::string& store_dir, std::string& label,
                       std::optional<store::ModelRecord>* record) {
  std::error_code ec;
  fs::path folder;
  if (fs::is_directory(model, ec)) {
    folder = model;
  } else if (fs::is_regular_file(model, ec) && fs::path(model).filename() == bundle::kManifestFile) {
    folder = fs::path(model).parent_path();
  }
  if (!folder.empty()) {
    label = "bundle " + folder.string();
    if (Status s = store::VerifyBundleFolder(folder.string()); !s.ok()) throw store::StoreError(s.message());
    return folder;
  }
  if (!store::Database::IsUrl(store_dir) && !fs::exists(fs::path(store_dir) / "runs.db")) {
    throw store::StoreError("no bundle folder '" + Excerpt(model, 200) + "', and no store at " + store_dir +
                            " to look it up in");
  }
  store::ModelRecord found = store::RunStore::OpenReadOnly(store_dir)->FindModel(model);
  label = "model " + found.name + " v" + std::to_string(found.version);
  if (Status s = store::VerifyModel(found); !s.ok()) throw store::StoreError(s.message());
  if (record) *record = found;
  return found.path;
}

json ReadManifest(const fs::path& bundle, const std::string& label) {
  json manifest;
  std::ifstream in(bundle / bundle::kManifestFile);
  if (!in) throw store::StoreError(label + ": no manifest.json in " + bundle.string() + " (not a Sluice bundle)");
  try {
    manifest = json::parse(in);
  } catch (const json::exception& e) {
    throw store::StoreError(label + ": manifest.json is malformed: " + MessageExcerpt(e));
  }
  if (manifest.value("format", "") != bundle::kFormatName) throw store::StoreError(label + " is not a Sluice bundle");
  const int format = manifest.value("format_version", 0);
  if (format > bundle::kFormatVersion) {
    throw NewerBundleFormat(label + " is bundle format " + std::to_string(format) + " (written by sluice " +
                            manifest.value("sluice", "?") + "); this sluice reads format " +
                            std::to_string(bundle::kFormatVersion) + " and older: upgrade sluice");
  }
  return manifest;
}

pipeline::PipelineBuilder BundlePipeline(const std::string& name, const json& manifest, const std::string& label) {
  const json& model = manifest.at("model");
  pipeline::PipelineBuilder b(name, label);
  b.Stage("model", model.at("plugin").get<std::string>())
      .RecordedVersion(model.at("plugin_version").get<std::string>());
  for (const auto& [param, value] : model.at("params").items()) {
    if (!value.is_null()) b.Param(param, pipeline::RawValueFromJson(value, b.here()));
  }
  return b;
}

}  // namespace sluice::cli
