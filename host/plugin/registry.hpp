// Finds plugin libraries and reads their contracts without running them.
//
// Search path: the directories in SLUICE_PLUGIN_PATH (colon-separated), then the
// built-in folder <exe>/../lib/sluice/plugins. Every *.so there is read through its
// .sluice_contract ELF section; a library without one (built by hand) is loaded to
// ask its entry point, the only case where plugin code runs before validation.
#ifndef SLUICE_HOST_PLUGIN_REGISTRY_HPP_
#define SLUICE_HOST_PLUGIN_REGISTRY_HPP_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/contract.hpp"

namespace sluice::plugin {

struct PluginDescriptor {
  std::string path;
  std::string name, version, kind, toolchain;
  uint32_t abi_major = 0, abi_minor = 0;
  std::string contract_json;  // exactly as the plugin reports it
  Contract contract;
  bool read_without_loading = true;  // false: had no section, was loaded to be read
  std::string incompatibility;       // non-empty: ABI or toolchain mismatch, with the fix
};

// A file on the search path that is not a usable plugin.
struct PluginIssue {
  std::string path;
  std::string message;
};

// This host's toolchain key (the SDK macro, as compiled into the host).
const char* HostToolchainKey();
// "" when a plugin with this handshake can be used, otherwise why not and what to do.
std::string CheckHandshake(const std::string& path, uint32_t abi_major, uint32_t abi_minor,
                           const std::string& toolchain);

class PluginRegistry {
 public:
  static std::vector<std::string> DefaultSearchPath();
  explicit PluginRegistry(std::vector<std::string> search_path = DefaultSearchPath());
  // A registry of the given contracts and no files, for tests of what consumes it.
  static PluginRegistry FromContracts(const std::vector<Contract>& contracts);

  // All plugins found, sorted by name then search order.
  const std::vector<PluginDescriptor>& plugins() const { return plugins_; }
  const std::vector<PluginIssue>& issues() const { return issues_; }
  const std::vector<std::string>& search_path() const { return search_path_; }
  std::vector<std::string> Names() const;

  // The usable plugin called `name`; otherwise null and `error` says why (unknown, two
  // files with that name, or incompatible), naming the files and the fix.
  const PluginDescriptor* Find(std::string_view name, std::string& error) const;

 private:
  struct NoFiles {};
  explicit PluginRegistry(NoFiles) {}
  void ScanFile(const std::string& path);
  void SortByName();

  std::vector<std::string> search_path_;
  std::vector<PluginDescriptor> plugins_;
  std::vector<PluginIssue> issues_;
};

}  // namespace sluice::plugin

#endif  // SLUICE_HOST_PLUGIN_REGISTRY_HPP_
