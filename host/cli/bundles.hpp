// Bundles as `sluice predict` and `sluice serve` use them: a MODEL argument to a checked
// bundle folder, its manifest, and the pipeline whose first stage rebuilds its network.
#ifndef SLUICE_HOST_CLI_BUNDLES_HPP_
#define SLUICE_HOST_CLI_BUNDLES_HPP_

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "pipeline/builder.hpp"
#include "run_store.hpp"

namespace sluice::cli {

// MODEL (a bundle folder, its manifest.json, or NAME[:VERSION|@ALIAS] in the store at
// `store_dir`) to the bundle folder, checked against the digests recorded for it.
// `label` names it in messages ("model credit-risk v3", "bundle DIR"); `record` gets the
// registry entry when MODEL named one.
std::filesystem::path ResolveBundle(const std::string& model, const std::string& store_dir, std::string& label,
                                    std::optional<store::ModelRecord>* record = nullptr);

// A bundle written in a newer format than this sluice reads.
struct NewerBundleFormat : store::StoreError {
  using store::StoreError::StoreError;
};

// The bundle's manifest.json, checked to be a bundle this sluice reads. Throws
// store::StoreError saying what is wrong, NewerBundleFormat naming the sluice that wrote it.
nlohmann::json ReadManifest(const std::filesystem::path& bundle, const std::string& label);

// A pipeline named `name` whose stage "model" is the bundle's model plugin, run with the
// parameters and version recorded in `manifest`; the caller adds the stage using it.
pipeline::PipelineBuilder BundlePipeline(const std::string& name, const nlohmann::json& manifest,
                                         const std::string& label);

}  // namespace sluice::cli

#endif  // SLUICE_HOST_CLI_BUNDLES_HPP_
