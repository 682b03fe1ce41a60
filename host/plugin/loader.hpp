// Loads plugin libraries for execution. Every library loaded stays resident until the
// process exits (a plugin is never unloaded: values and code it created may still be
// referenced anywhere in the host).
#ifndef SLUICE_HOST_PLUGIN_LOADER_HPP_
#define SLUICE_HOST_PLUGIN_LOADER_HPP_

#include <string>

#include "registry.hpp"
#include "sluice/abi.h"

namespace sluice::plugin {

// Loads `path` and returns its info from the C entry point, without checking it. Null
// on failure with `error` set ("cannot load ...", "no entry point ...").
const SluicePluginInfo* LoadPluginInfo(const std::string& path, std::string& error);

// Loads the plugin described by `plugin` and checks, before any C++ call: struct size,
// ABI version, toolchain key, and that the library reports the contract its section
// holds. Null on failure, with `error` naming the file and the fix.
const SluicePluginInfo* LoadPlugin(const PluginDescriptor& plugin, std::string& error);

// Facts from libsluice_torch when a loaded plugin brought it in, as JSON ("" if none).
// `threads` > 0 sets LibTorch's intra-op thread count first.
std::string TorchRuntime(int threads);

}  // namespace sluice::plugin

#endif  // SLUICE_HOST_PLUGIN_LOADER_HPP_
