// Where pipelines find their data. A relative file or folder parameter is looked for in
// the pipeline file's folder (the current folder for --set), then in each folder of the
// data path, so that one pipeline file runs on every machine that has its data somewhere
// on that path. A path written ./x or ../x names the pipeline's folder only.
#ifndef SLUICE_HOST_DATA_DATA_PATH_HPP_
#define SLUICE_HOST_DATA_DATA_PATH_HPP_

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace sluice::data {

struct DataFolder {
  std::filesystem::path path;
  std::string origin;  // "SLUICE_DATA_PATH", "sluice's own", "tools/setup", "Debian"
};

// The data path in search order: each folder of $SLUICE_DATA_PATH (colon-separated),
// <sluice's prefix>/share/sluice/data, /usr/local/share/sluice/data (where tools/setup
// puts the shipped pipelines' data), /usr/share/sluice/data, and Debian's folders
// /usr/share/datasets and /usr/share/doc. Folders that do not exist are listed too.
std::vector<DataFolder> DataPath();

// Looks for `name` (a relative path) in `base`, then along DataPath(); returns the first
// existing candidate, absolute and normalized. `tried` receives every folder searched.
std::optional<std::filesystem::path> FindData(const std::filesystem::path& name, const std::filesystem::path& base,
                                              std::vector<std::filesystem::path>* tried = nullptr);

// "a regular file", "a directory", "a character device", ... for messages; "" if absent.
std::string FileKind(const std::filesystem::path& path);

}  // namespace sluice::data

#endif  // SLUICE_HOST_DATA_DATA_PATH_HPP_
