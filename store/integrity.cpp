#include "integrity.hpp"

#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "sluice/bundle.hpp"
#include "sluice/digest.hpp"
#include "sluice/excerpt.hpp"

namespace sluice::store {

namespace fs = std::filesystem;

Status VerifyArtifact(const std::string& run_id, const ArtifactRecord& artifact) {
  const std::string what = "artifact " + artifact.stage + "/" + artifact.name + " of run " + run_id;
  std::error_code ec;
  const auto size = fs::file_size(artifact.path, ec);
  if (ec && !fs::exists(artifact.path)) {
    return Status::NotFound(what + " is missing (" + artifact.path + ")");
  }
  if (!ec && static_cast<int64_t>(size) != artifact.bytes) {
    return Status::InvalidArgument(what + " was changed after it was recorded (" + artifact.path + ": " +
                                   std::to_string(size) + " bytes, recorded " + std::to_string(artifact.bytes) + ")");
  }
  return VerifySha256(artifact.path, artifact.sha256, what);
}

Status VerifyModel(const ModelRecord& model) {
  const std::string name = "model " + model.name + " v" + std::to_string(model.version);
  std::error_code ec;
  if (!fs::is_directory(model.path, ec)) return Status::NotFound(name + ": its folder " + model.path + " is missing");
  for (const auto& [file, digest] : model.files) {
    SLUICE_RETURN_IF_ERROR(VerifySha256((fs::path(model.path) / file).string(), digest, file + " of " + name));
  }
  if (model.files.empty()) return Status::Ok();  // registered before digests were recorded
  for (fs::recursive_directory_iterator it(model.path, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string file = it->path().lexically_relative(model.path).generic_string();
    if (!it->is_directory(ec) && !model.files.count(file)) {
      return Status::InvalidArgument(name + ": " + it->path().string() + " was added after it was registered");
    }
  }
  return Status::Ok();
}

Status VerifyBundleFolder(const std::string& folder) {
  const fs::path manifest_path = fs::path(folder) / bundle::kManifestFile;
  std::ifstream in(manifest_path);
  if (!in) return Status::NotFound(manifest_path.string() + ": cannot open (not a Sluice bundle?)");
  nlohmann::json manifest;
  try {
    manifest = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(manifest_path.string() + " is malformed: " + MessageExcerpt(e));
  }
  const auto files = manifest.find("files");
  if (files == manifest.end() || !files->is_object()) return Status::Ok();  // format 1: no digests
  for (const auto& [file, digest] : files->items()) {
    if (!digest.is_string())
      return Status::InvalidArgument(manifest_path.string() + ": files." + file + " is not a digest");
    const fs::path path = fs::path(folder) / file;
    if (file.find("..") != std::string::npos || fs::path(file).is_absolute()) {
      return Status::InvalidArgument(manifest_path.string() + " lists a file outside the bundle: " + file);
    }
    SLUICE_RETURN_IF_ERROR(VerifySha256(path.string(), digest.get<std::string>(), file + " of bundle " + folder));
  }
  return Status::Ok();
}

StoreCheck CheckStore(RunStore& store) {
  StoreCheck check;
  Database& db = store.db();
  // PostgreSQL checks its own pages and enforces foreign keys on every write; SQLite's
  // file is checked here.
  if (db.dialect() == Dialect::kSqlite) {
    Statement q = db.Prepare("PRAGMA integrity_check");
    while (q.Step()) {
      const std::string line = q.Text(0);
      if (line != "ok") check.problems.push_back({"database runs.db", "runs.db: SQLite's integrity check: " + line});
    }
  }
  if (db.dialect() == Dialect::kSqlite) {
    Statement q = db.Prepare("PRAGMA foreign_key_check");
    while (q.Step()) {
      check.problems.push_back({"database runs.db", "runs.db: table " + q.Text(0) + ", row " +
                                                        std::to_string(q.Int(1)) + ": refers to a missing row of " +
                                                        q.Text(2)});
    }
  }
  std::vector<std::string> run_ids;
  {
    Statement q = db.Prepare("SELECT id FROM runs ORDER BY started_at");
    while (q.Step()) run_ids.push_back(q.Text(0));
  }
  check.runs = static_cast<int64_t>(run_ids.size());
  for (const std::string& run_id : run_ids) {
    std::vector<ArtifactRecord> artifacts;
    try {
      artifacts = store.Artifacts(run_id);
    } catch (const StoreError& e) {
      check.problems.push_back({"run " + run_id, "run " + run_id + ": " + e.what()});
      continue;
    }
    for (const ArtifactRecord& a : artifacts) {
      ++check.artifacts;
      if (Status s = VerifyArtifact(run_id, a); !s.ok()) {
        check.problems.push_back({"run " + run_id + ": artifact " + a.stage + "/" + a.name, s.message()});
      }
    }
  }
  std::vector<ModelRecord> models;
  try {
    models = store.ListModels();
  } catch (const StoreError& e) {
    check.problems.push_back({"models", std::string("the model registry: ") + e.what()});
  }
  for (const ModelRecord& m : models) {
    ++check.models;
    const std::string what = "model " + m.name + " v" + std::to_string(m.version);
    if (m.files.empty()) {
      check.notes.push_back(what + " was registered before sluice recorded digests; its files cannot be verified");
    }
    if (Status s = VerifyModel(m); !s.ok()) check.problems.push_back({what, s.message()});
  }
  // A registration copies the bundle to models/NAME/.incoming-ID before its transaction;
  // one whose process was killed in between leaves the copy, which nothing lists.
  std::error_code ec;
  for (const auto& name : fs::directory_iterator(store.dir() / "models", ec)) {
    for (const auto& entry : fs::directory_iterator(name.path(), ec)) {
      if (entry.path().filename().string().rfind(".incoming-", 0) == 0) {
        check.notes.push_back(entry.path().string() +
                              ": the copy of a registration that did not finish (or is under way); delete it if no "
                              "sluice is registering a model");
      }
    }
  }
  for (const std::string& id : store.DeadRuns()) {
    check.problems.push_back(
        {"run " + id,
         "run " + id +
             " is recorded running, but its process is gone (the next command that writes the store marks it "
             "crashed; `sluice run --resume " +
             id.substr(0, 8) + "` continues it)"});
  }
  {
    Statement q = db.Prepare("SELECT id, host FROM runs WHERE status = 'running'");
    std::set<std::string> dead;
    for (const std::string& id : store.DeadRuns()) dead.insert(id);
    while (q.Step()) {
      if (!dead.count(q.Text(0))) {
        check.notes.push_back("run " + q.Text(0) + " is running (on " + q.Text(1) + ")");
      }
    }
  }
  return check;
}

}  // namespace sluice::store
