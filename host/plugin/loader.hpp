// Loads plugin libraries for execution. Every library loaded stays resident until the
// process exits (a plugin is never unloaded: values and code it created may still be
// referenced anywhere in the host).
#ifndef SLUICE_HOST_PLUGIN_LOADER_HPP_
#define SLUICE_HOST_PLUGIN_LOADER_HPP_

#include <cstddef>
#include <cstring>
#include <string>

#include "registry.hpp"
#include "sluice/abi.h"

namespace sluice::plugin {

// Loads `path` and returns its info from the C entry point, without checking it. Null
// on failure with `error` set ("cannot load ...", "no entry point ...").
const SluicePluginInfo* LoadPluginInfo(const std::string& path, std::string& error);
// Whether this process has loaded `path` already (loading it again cannot fail or crash).
bool IsLoaded(const std::string& path);

// Loads the plugin described by `plugin` and checks, before any C++ call: struct size,
// ABI version, toolchain key, and that the library reports the contract its section
// holds. Null on failure, with `error` naming the file and the fix.
const SluicePluginInfo* LoadPlugin(const PluginDescriptor& plugin, std::string& error);

// A field appended to SluicePluginInfo by a later ABI minor, at `offset`: read only when
// the plugin's struct_size says it filled it in, `fallback` otherwise (an older plugin).
template <class T>
T AppendedField(const SluicePluginInfo& info, size_t offset, T fallback) {
  if (info.struct_size < offset + sizeof(T)) return fallback;
  T value;
  std::memcpy(&value, reinterpret_cast<const char*>(&info) + offset, sizeof(T));
  return value;
}

// Facts from libsluice_torch when a loaded plugin brought it in, as JSON ("" if none).
// `threads` > 0 sets LibTorch's intra-op thread count first.
std::string TorchRuntime(int threads);

}  // namespace sluice::plugin

#endif  // SLUICE_HOST_PLUGIN_LOADER_HPP_
