#include "artifact_store.hpp"

#include "sluice/digest.hpp"

namespace sluice::store {

namespace fs = std::filesystem;

ArtifactRecord StoreArtifact(const fs::path& store_dir, const std::string& stage, const std::string& name,
                             const fs::path& file) {
  std::error_code ec;
  const auto bytes = fs::file_size(file, ec);
  if (ec) throw StoreError("artifact '" + name + "' of stage '" + stage + "': " + file.string() + ": " + ec.message());
  std::string digest;
  if (Status s = Sha256File(file.string(), digest); !s.ok())
    throw StoreError("artifact '" + name + "': " + s.message());
  const fs::path folder = store_dir / "artifacts" / "sha256" / digest.substr(0, 2);
  const fs::path target = folder / (digest + file.extension().string());
  fs::create_directories(folder, ec);
  if (ec) throw StoreError("cannot create " + folder.string() + ": " + ec.message());
  if (fs::exists(target)) {
    fs::remove(file, ec);
  } else {
    // rename is atomic within one file system; copy when the scratch folder is elsewhere.
    fs::rename(file, target, ec);
    if (ec) {
      const fs::path partial = target.string() + ".partial";
      fs::copy_file(file, partial, fs::copy_options::overwrite_existing, ec);
      if (!ec) fs::rename(partial, target, ec);
      if (ec) throw StoreError("cannot store artifact " + target.string() + ": " + ec.message());
      fs::remove(file, ec);
    }
    fs::permissions(target, fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write,
                    fs::perm_options::remove, ec);
  }
  return ArtifactRecord{stage, name, target.string(), digest, static_cast<int64_t>(bytes)};
}

}  // namespace sluice::store
