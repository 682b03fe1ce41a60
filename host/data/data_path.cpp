#include "data_path.hpp"

#include <cstdlib>

namespace sluice::data {

namespace fs = std::filesystem;

std::vector<DataFolder> DataPath() {
  std::vector<DataFolder> folders;
  auto add = [&](const fs::path& path, const char* origin) {
    const fs::path normal = path.lexically_normal();
    for (const DataFolder& f : folders) {
      if (f.path == normal) return;
    }
    folders.push_back({normal, origin});
  };
  if (const char* env = std::getenv("SLUICE_DATA_PATH")) {
    const std::string list = env;
    size_t start = 0;
    while (start <= list.size()) {
      size_t end = list.find(':', start);
      if (end == std::string::npos) end = list.size();
      if (end > start) {
        std::error_code ec;
        add(fs::absolute(list.substr(start, end - start), ec), "SLUICE_DATA_PATH");
      }
      start = end + 1;
    }
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) add(exe.parent_path().parent_path() / "share" / "sluice" / "data", "sluice's own");
  add("/usr/local/share/sluice/data", "tools/setup");
  add("/usr/share/sluice/data", "packaged");
  add("/usr/share/datasets", "Debian");
  add("/usr/share/doc", "Debian");
  return folders;
}

std::optional<fs::path> FindData(const fs::path& name, const fs::path& base, std::vector<fs::path>* tried) {
  std::error_code ec;
  auto exists = [&](const fs::path& p) { return fs::exists(fs::symlink_status(p, ec)); };
  const fs::path folder = base.empty() ? fs::current_path(ec) : fs::absolute(base, ec).lexically_normal();
  const fs::path local = (folder / name).lexically_normal();
  if (tried) tried->push_back(folder);
  if (exists(local)) return local;
  const std::string text = name.generic_string();
  const bool explicitly_local = text.rfind("./", 0) == 0 || text.rfind("../", 0) == 0 || text == "." || text == "..";
  if (explicitly_local) return std::nullopt;
  for (const DataFolder& entry : DataPath()) {
    if (tried) tried->push_back(entry.path);
    const fs::path candidate = (entry.path / name).lexically_normal();
    if (exists(candidate)) return candidate;
  }
  return std::nullopt;
}

std::string FileKind(const fs::path& path) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec && status.type() != fs::file_type::not_found) return "unreadable (" + ec.message() + ")";
  switch (status.type()) {
    case fs::file_type::regular:
      return "a regular file";
    case fs::file_type::directory:
      return "a directory";
    case fs::file_type::character:
      return "a character device";
    case fs::file_type::block:
      return "a block device";
    case fs::file_type::fifo:
      return "a FIFO (named pipe)";
    case fs::file_type::socket:
      return "a socket";
    case fs::file_type::not_found: {
      const fs::file_status link = fs::symlink_status(path, ec);
      if (link.type() == fs::file_type::symlink) return "a dangling symbolic link";
      return "";
    }
    default:
      return "not a regular file";
  }
}

}  // namespace sluice::data
