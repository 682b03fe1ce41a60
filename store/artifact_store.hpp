// Content-addressed artifact files: <store>/artifacts/sha256/<2 hex>/<64 hex><.ext>.
#ifndef SLUICE_STORE_ARTIFACT_STORE_HPP_
#define SLUICE_STORE_ARTIFACT_STORE_HPP_

#include <filesystem>

#include "run_store.hpp"

namespace sluice::store {

// Moves `file` into the store under its SHA-256 (an identical file already there is
// reused) and returns the record for the artifacts table. Throws StoreError.
ArtifactRecord StoreArtifact(const std::filesystem::path& store_dir, const std::string& stage, const std::string& name,
                             const std::filesystem::path& file);

}  // namespace sluice::store

#endif  // SLUICE_STORE_ARTIFACT_STORE_HPP_
