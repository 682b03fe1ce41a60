// sluice-contract-dump PLUGIN.so OUT.json
//
// Build tool run by sluice_add_plugin(): loads a freshly linked plugin, reads its
// SluicePluginInfo through the C entry point and writes the JSON that is then embedded
// in the library's .sluice_contract section.
#include <dlfcn.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "sluice/abi.h"
#include "sluice/contract.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: sluice-contract-dump PLUGIN.so OUT.json\n";
    return 2;
  }
  const char* path = argv[1];
  void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    std::cerr << path << ": error: cannot load: " << dlerror() << "\n";
    return 1;
  }
  auto entry = reinterpret_cast<SluicePluginEntryFn>(dlsym(handle, SLUICE_PLUGIN_ENTRY));
  if (!entry) {
    std::cerr << path
              << ": error: no entry point '" SLUICE_PLUGIN_ENTRY
                 "'; register the stage with SLUICE_PLUGIN(YourStage)\n";
    return 1;
  }
  const SluicePluginInfo* info = entry();
  if (!info || !info->name || !info->contract) {
    auto why = reinterpret_cast<const char* (*)()>(dlsym(handle, SLUICE_PLUGIN_ERROR_ENTRY));
    const char* text = why ? why() : nullptr;
    const std::string reason = text && *text ? text : "it could not describe itself";
    std::cerr << path << ": error: " << reason << "\n";
    return 1;
  }
  try {
    sluice::Contract::FromJson(info->contract);  // fail the build on a malformed contract
  } catch (const std::exception& e) {
    std::cerr << path << ": error: " << e.what() << "\n";
    return 1;
  }
  nlohmann::json out = {{"abi_major", info->abi_major}, {"abi_minor", info->abi_minor}, {"name", info->name},
                        {"version", info->version},     {"kind", info->kind},           {"toolchain", info->toolchain},
                        {"contract", info->contract}};
  std::ofstream file(argv[2], std::ios::binary | std::ios::trunc);
  file << out.dump();
  if (!file) {
    std::cerr << argv[2] << ": error: cannot write\n";
    return 1;
  }
  return 0;
}
