#include "loader.hpp"

#define BOOST_DLL_USE_STD_FS
#include <dlfcn.h>

#include <boost/dll/shared_library.hpp>
#include <cstddef>
#include <map>
#include <mutex>
#include <vector>

namespace sluice::plugin {
namespace {

// Libraries are kept here and deliberately never destroyed (no dlclose at exit either:
// static destructors would otherwise unload plugins while their objects are alive).
std::vector<boost::dll::shared_library>& Resident() {
  static auto* resident = new std::vector<boost::dll::shared_library>();
  return *resident;
}

// The plugins loaded so far, by path: loading one again (a sweep's every trial) looks it
// up here instead of asking the dynamic loader, which would return the same library.
struct Loaded {
  std::mutex mutex;
  std::map<std::string, const SluicePluginInfo*> infos;
  bool torch_looked_for = false;  // since the last plugin was loaded
  void* torch = nullptr;          // libsluice_torch, once a plugin brought it in
};
Loaded& LoadedPlugins() {
  static auto* loaded = new Loaded();
  return *loaded;
}

std::string DlError(const std::string& what) {
  // Boost.DLL's message wraps dlerror(); keep only the system part when present.
  const std::string marker = "dlerror system message: ";
  auto pos = what.find(marker);
  if (pos == std::string::npos) return what;
  std::string text = what.substr(pos + marker.size());
  if (!text.empty() && text.back() == ')') text.pop_back();
  return text;
}

}  // namespace

bool IsLoaded(const std::string& path) {
  Loaded& loaded = LoadedPlugins();
  std::lock_guard<std::mutex> lock(loaded.mutex);
  return loaded.infos.count(path) > 0;
}

const SluicePluginInfo* LoadPluginInfo(const std::string& path, std::string& error) {
  Loaded& loaded = LoadedPlugins();
  {
    std::lock_guard<std::mutex> lock(loaded.mutex);
    if (auto it = loaded.infos.find(path); it != loaded.infos.end()) return it->second;
  }
  try {
    boost::dll::shared_library library(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    if (!library.has(SLUICE_PLUGIN_ENTRY)) {
      error = path + ": not a Sluice plugin: it has no entry point '" SLUICE_PLUGIN_ENTRY
                     "' (plugins register their stage with SLUICE_PLUGIN(...) and build with sluice_add_plugin())";
      Resident().push_back(std::move(library));
      return nullptr;
    }
    auto entry = library.get<const SluicePluginInfo*()>(SLUICE_PLUGIN_ENTRY);
    const char* (*why)() = nullptr;
    if (library.has(SLUICE_PLUGIN_ERROR_ENTRY)) why = library.get<const char*()>(SLUICE_PLUGIN_ERROR_ENTRY);
    Resident().push_back(std::move(library));
    const SluicePluginInfo* info = entry();
    if (!info) {
      const char* reason = why ? why() : nullptr;
      error = path + ": " + (reason && *reason ? reason : "the plugin could not describe itself");
      return nullptr;
    }
    std::lock_guard<std::mutex> lock(loaded.mutex);
    loaded.infos.emplace(path, info);
    loaded.torch_looked_for = false;
    return info;
  } catch (const std::exception& e) {
    error = path + ": cannot load: " + DlError(e.what());
    return nullptr;
  }
}

const SluicePluginInfo* LoadPlugin(const PluginDescriptor& plugin, std::string& error) {
  const SluicePluginInfo* info = LoadPluginInfo(plugin.path, error);
  if (!info) return nullptr;
  // Read the fixed head first; only then anything the struct size says is present.
  constexpr size_t kNeeded = offsetof(SluicePluginInfo, run_stage) + sizeof(info->run_stage);
  std::string problem =
      CheckHandshake(plugin.path, info->abi_major, info->abi_minor, info->toolchain ? info->toolchain : "");
  if (problem.empty() && info->struct_size < kNeeded) {
    problem = plugin.path + ": its plugin info is " + std::to_string(info->struct_size) + " bytes, smaller than ABI " +
              std::to_string(SLUICE_ABI_MAJOR) + "." + std::to_string(SLUICE_ABI_MINOR) +
              " requires; rebuild it against this SDK";
  }
  if (!problem.empty()) {
    error = problem;
    return nullptr;
  }
  if (!info->run_stage || !info->contract || !info->name) {
    error = plugin.path + ": the plugin info is incomplete (no run_stage, name or contract)";
    return nullptr;
  }
  if (plugin.read_without_loading && plugin.contract_json != info->contract) {
    error = plugin.path +
            ": the contract in its .sluice_contract section differs from the one the library reports "
            "(the file was changed after it was built); rebuild it with sluice_add_plugin()";
    return nullptr;
  }
  return info;
}

std::string TorchRuntime(int threads) {
#ifdef SLUICE_TORCH_SONAME
  // Only if a plugin already brought libsluice_torch in: never load LibTorch for this.
  // Looked for again only after another plugin was loaded (the loader opens the file).
  void* handle = nullptr;
  {
    Loaded& loaded = LoadedPlugins();
    std::lock_guard<std::mutex> lock(loaded.mutex);
    if (!loaded.torch && !loaded.torch_looked_for) {
      loaded.torch = dlopen(SLUICE_TORCH_SONAME, RTLD_NOW | RTLD_NOLOAD);  // kept: plugins are never unloaded
      loaded.torch_looked_for = true;
    }
    handle = loaded.torch;
  }
  if (!handle) return "";
  auto runtime = reinterpret_cast<const char* (*)(int)>(dlsym(handle, "sluice_torch_runtime"));
  return runtime ? runtime(threads) : "";
#else
  (void)threads;
  return "";
#endif
}

}  // namespace sluice::plugin
