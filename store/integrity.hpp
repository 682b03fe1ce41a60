// Checking what the store recorded against what is on disk: artifacts and registered
// bundles against their SHA-256, the database against SQLite's own integrity check.
// Readers (predict, init_from, runs show) verify what they use; `sluice store check`
// verifies everything.
#ifndef SLUICE_STORE_INTEGRITY_HPP_
#define SLUICE_STORE_INTEGRITY_HPP_

#include <string>
#include <vector>

#include "run_store.hpp"
#include "sluice/status.hpp"

namespace sluice::store {

// Ok when the artifact's file exists and has its recorded size and SHA-256; otherwise
// NotFound or InvalidArgument, naming the artifact and the file.
Status VerifyArtifact(const std::string& run_id, const ArtifactRecord& artifact);

// Ok when every file recorded for the registered bundle exists with its SHA-256 and no
// file was added; the first problem otherwise. A bundle registered before digests were
// recorded (schema < 4) cannot be verified and is Ok.
Status VerifyModel(const ModelRecord& model);

// Ok when a bundle folder given by path (not through the registry) matches the digests
// its manifest lists for its files (bundle format 2); format 1 bundles list none.
Status VerifyBundleFolder(const std::string& folder);

struct StoreProblem {
  std::string what;     // "run 3f9a...: artifact eval/predictions", "model credit-risk v2"
  std::string message;  // what is wrong, naming `what` too: a line for the user, naming `what` too: a line for the user
};

struct StoreCheck {
  std::vector<StoreProblem> problems;
  std::vector<std::string> notes;  // not problems: bundles without digests, live runs
  int64_t runs = 0, artifacts = 0, models = 0;
};

// SQLite's integrity and foreign-key checks, every artifact's file and digest, every
// registered bundle's files, runs left running by processes that are gone. Reads only.
StoreCheck CheckStore(RunStore& store);

}  // namespace sluice::store

#endif  // SLUICE_STORE_INTEGRITY_HPP_
