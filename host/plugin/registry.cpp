#include "registry.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "elf_section.hpp"
#include "loader.hpp"
#include "sluice/abi.h"
#include "sluice/plugin.hpp"

namespace sluice::plugin {

namespace fs = std::filesystem;

const char* HostToolchainKey() { return SLUICE_TOOLCHAIN_KEY; }

std::string CheckHandshake(const std::string& path, uint32_t abi_major, uint32_t abi_minor,
                           const std::string& toolchain) {
  const std::string ours = std::to_string(SLUICE_ABI_MAJOR) + "." + std::to_string(SLUICE_ABI_MINOR);
  const std::string theirs = std::to_string(abi_major) + "." + std::to_string(abi_minor);
  if (abi_major != SLUICE_ABI_MAJOR) {
    return path + ": built for Sluice plugin ABI " + theirs + ", but this sluice implements ABI " + ours +
           "; rebuild the plugin against Sluice SDK " + std::to_string(SLUICE_ABI_MAJOR) +
           ".x (find_package(SluiceSDK " + std::to_string(SLUICE_ABI_MAJOR) + "))";
  }
  if (abi_minor > SLUICE_ABI_MINOR) {
    return path + ": needs Sluice plugin ABI " + theirs + " (Sluice SDK " + theirs + "), newer than this sluice's " +
           ours + "; upgrade sluice to " + theirs + " or later, or rebuild the plugin against Sluice SDK " + ours;
  }
  if (toolchain != HostToolchainKey()) {
    return path + ": built with toolchain '" + toolchain + "', but this sluice uses '" + HostToolchainKey() +
           "'; rebuild the plugin against this Sluice SDK (the same C++ standard library and LibTorch)";
  }
  return "";
}

std::vector<std::string> PluginRegistry::DefaultSearchPath() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("SLUICE_PLUGIN_PATH")) {
    std::string list = env;
    size_t start = 0;
    while (start <= list.size()) {
      size_t end = list.find(':', start);
      if (end == std::string::npos) end = list.size();
      if (end > start) dirs.push_back(list.substr(start, end - start));
      start = end + 1;
    }
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back((exe.parent_path().parent_path() / "lib" / "sluice" / "plugins").string());
  return dirs;
}

PluginRegistry::PluginRegistry(std::vector<std::string> search_path) : search_path_(std::move(search_path)) {
  std::vector<std::string> seen;
  for (const std::string& dir : search_path_) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      const bool exists = fs::exists(fs::symlink_status(dir, ec));
      issues_.push_back({dir, exists ? "is on the plugin path but is not a folder"
                                     : "is on the plugin path but does not exist (check SLUICE_PLUGIN_PATH)"});
      continue;
    }
    std::vector<std::string> files;
    for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().extension() != ".so") continue;
      std::error_code status_error;
      const fs::file_status target = fs::status(entry.path(), status_error);
      if (target.type() == fs::file_type::regular) {
        files.push_back(entry.path().string());
      } else if (status_error.value() == ELOOP) {
        issues_.push_back({entry.path().string(), "not loaded: a loop of symbolic links"});
      } else if (target.type() == fs::file_type::not_found) {
        issues_.push_back({entry.path().string(), "not loaded: a symbolic link to nothing (" +
                                                      fs::read_symlink(entry.path(), status_error).string() + ")"});
      } else if (target.type() == fs::file_type::directory) {
        issues_.push_back({entry.path().string(), "not loaded: a folder, not a library"});
      } else {
        issues_.push_back({entry.path().string(), "not loaded: not a regular file" +
                                                      (status_error ? " (" + status_error.message() + ")" : "")});
      }
    }
    if (ec) issues_.push_back({dir, "cannot list: " + ec.message()});
    std::sort(files.begin(), files.end());
    for (const std::string& file : files) {
      // The same folder twice on the path (or via a symlink) is one set of files.
      std::string canonical = fs::weakly_canonical(file, ec).string();
      if (std::find(seen.begin(), seen.end(), canonical) != seen.end()) continue;
      seen.push_back(canonical);
      ScanFile(file);
    }
  }
  SortByName();
}

void PluginRegistry::SortByName() {
  std::stable_sort(plugins_.begin(), plugins_.end(),
                   [](const PluginDescriptor& a, const PluginDescriptor& b) { return a.name < b.name; });
}

PluginRegistry PluginRegistry::FromContracts(const std::vector<Contract>& contracts) {
  PluginRegistry registry{NoFiles{}};
  for (const Contract& c : contracts) {
    PluginDescriptor d;
    d.path = "<memory>/" + c.name() + ".so";
    d.name = c.name();
    d.version = c.version();
    d.kind = KindName(c.kind());
    d.toolchain = HostToolchainKey();
    d.abi_major = SLUICE_ABI_MAJOR;
    d.abi_minor = SLUICE_ABI_MINOR;
    d.contract_json = c.ToJson();
    d.contract = c;
    registry.plugins_.push_back(std::move(d));
  }
  registry.SortByName();
  return registry;
}

void PluginRegistry::ScanFile(const std::string& path) {
  PluginDescriptor d;
  d.path = path;
  std::string section, error;
  switch (ReadElfSection(path, SLUICE_CONTRACT_SECTION, section, error)) {
    case ElfReadResult::kUnreadable:
      issues_.push_back({path, "cannot read: " + error});
      return;
    case ElfReadResult::kNotElf:
      issues_.push_back({path, "not a plugin: " + error});
      return;
    case ElfReadResult::kFound:
      try {
        nlohmann::json j = nlohmann::json::parse(section);
        d.abi_major = j.at("abi_major").get<uint32_t>();
        d.abi_minor = j.at("abi_minor").get<uint32_t>();
        d.name = j.at("name").get<std::string>();
        d.version = j.at("version").get<std::string>();
        d.kind = j.at("kind").get<std::string>();
        d.toolchain = j.at("toolchain").get<std::string>();
        d.contract_json = j.at("contract").get<std::string>();
      } catch (const std::exception& e) {
        issues_.push_back({path, std::string("malformed .sluice_contract section: ") + e.what()});
        return;
      }
      break;
    case ElfReadResult::kNoSection: {
      // Built without sluice_add_plugin(): the entry point is the only way to ask.
      const SluicePluginInfo* info = LoadPluginInfo(path, error);
      if (!info) {
        issues_.push_back({path, error.substr(error.find(": ") + 2)});
        return;
      }
      d.read_without_loading = false;
      issues_.push_back({path,
                         "built without sluice_add_plugin(): no contract is embedded in it, so reading its contract "
                         "loads the library and all it links (with LibTorch, about half a second and 150 MB, "
                         "for every `plugins` or `validate`); build it with sluice_add_plugin()"});
      d.abi_major = info->abi_major;
      d.abi_minor = info->abi_minor;
      // name and version lead the struct in every ABI major; the rest is only read once
      // the major matches.
      d.name = info->name ? info->name : fs::path(path).stem().string();
      d.version = info->version ? info->version : "?";
      if (d.abi_major == SLUICE_ABI_MAJOR && info->kind && info->toolchain && info->contract) {
        d.kind = info->kind;
        d.toolchain = info->toolchain;
        d.contract_json = info->contract;
      }
      break;
    }
  }
  d.incompatibility = CheckHandshake(path, d.abi_major, d.abi_minor, d.toolchain);
  if (d.incompatibility.empty()) {
    try {
      d.contract = Contract::FromJson(d.contract_json);
    } catch (const std::exception& e) {
      d.incompatibility = path + ": " + e.what() + "; rebuild it with sluice_add_plugin()";
    }
  }
  plugins_.push_back(std::move(d));
}

std::vector<std::string> PluginRegistry::Names() const {
  std::vector<std::string> names;
  for (const PluginDescriptor& d : plugins_) {
    if (names.empty() || names.back() != d.name) names.push_back(d.name);
  }
  return names;
}

const PluginDescriptor* PluginRegistry::Find(std::string_view name, std::string& error) const {
  std::vector<const PluginDescriptor*> matches;
  for (const PluginDescriptor& d : plugins_) {
    if (d.name == name) matches.push_back(&d);
  }
  if (matches.empty()) {
    error = "unknown plugin '" + std::string(name) + "'";
    return nullptr;
  }
  if (matches.size() > 1) {
    error = "plugin '" + std::string(name) + "' is provided by " + std::to_string(matches.size()) + " files: ";
    for (size_t i = 0; i < matches.size(); ++i) error += (i ? ", " : "") + matches[i]->path;
    error += "; remove one, or change SLUICE_PLUGIN_PATH so only one is found";
    return nullptr;
  }
  if (!matches.front()->incompatibility.empty()) {
    error = "plugin '" + std::string(name) + "' cannot be used: " + matches.front()->incompatibility;
    return nullptr;
  }
  return matches.front();
}

}  // namespace sluice::plugin
