// Writing a plugin: derive from sluice::Stage, give the class a static Describe()
// returning its Contract, and register it once with SLUICE_PLUGIN:
//
//   class Scale final : public sluice::Stage {
//    public:
//     static sluice::Contract Describe() { return sluice::Contract("scale", "1.0.0", ...); }
//     sluice::Status Run(sluice::StageContext& ctx) override;
//   };
//   SLUICE_PLUGIN(Scale)
//
// The macro defines the C entry point. Every call into plugin code it generates is
// wrapped in try/catch (including catch (...)): exceptions never reach the host, they
// become a SluiceStatus the host owns.
#ifndef SLUICE_PLUGIN_HPP_
#define SLUICE_PLUGIN_HPP_

#include <exception>
#include <string>

#include "sluice/abi.h"
#include "sluice/config.h"
#include "sluice/contract.hpp"
#include "sluice/stage.hpp"
#include "sluice/status.hpp"

#define SLUICE_STRINGIFY_INNER(x) #x
#define SLUICE_STRINGIFY(x) SLUICE_STRINGIFY_INNER(x)

#if defined(__clang__)
#define SLUICE_COMPILER_ID "clang-" SLUICE_STRINGIFY(__clang_major__)
#elif defined(__GNUC__)
#define SLUICE_COMPILER_ID "gcc-" SLUICE_STRINGIFY(__GNUC__)
#else
#define SLUICE_COMPILER_ID "unknown"
#endif

#ifdef _GLIBCXX_USE_CXX11_ABI
#define SLUICE_CXX11_ABI SLUICE_STRINGIFY(_GLIBCXX_USE_CXX11_ABI)
#else
#define SLUICE_CXX11_ABI "none"
#endif

// The toolchain key: a plugin's C++ tier is used only when it equals the host's.
#define SLUICE_TOOLCHAIN_KEY                                                              \
  "sdk=" SLUICE_STRINGIFY(SLUICE_SDK_VERSION_MAJOR) "." SLUICE_STRINGIFY(                 \
      SLUICE_SDK_VERSION_MINOR) ";cxx=" SLUICE_COMPILER_ID ";torch=" SLUICE_TORCH_VERSION \
                                ";cxx11abi=" SLUICE_CXX11_ABI

namespace sluice::internal {

// Converts a Status into the owned C error (null for ok).
SLUICE_API SluiceStatus* ToC(const Status& status);

template <class StageT>
SluiceStatus* RunStage(void* stage_context) noexcept {
  try {
    StageT stage;
    return ToC(stage.Run(*static_cast<StageContext*>(stage_context)));
  } catch (const std::exception& e) {
    return ToC(Status::Internal(e.what()));
  } catch (...) {
    return ToC(Status::Internal("the plugin threw an exception that is not a std::exception"));
  }
}

template <class StageT>
const SluicePluginInfo* PluginInfoFor() noexcept {
  try {
    // Built once, then owned by the plugin until exit (plugins are never unloaded).
    static const Contract contract = StageT::Describe();
    static const std::string contract_json = contract.ToJson();
    static const SluicePluginInfo info = {
        SLUICE_ABI_MAJOR,        SLUICE_ABI_MINOR,           sizeof(SluicePluginInfo),  0,
        contract.name().c_str(), contract.version().c_str(), KindName(contract.kind()), SLUICE_TOOLCHAIN_KEY,
        contract_json.c_str(),   &RunStage<StageT>,
    };
    return &info;
  } catch (...) {
    return nullptr;
  }
}

}  // namespace sluice::internal

// Defines the plugin's entry point for the Stage class `StageT`. Use once per library.
#define SLUICE_PLUGIN(StageT)                                                        \
  extern "C" SLUICE_PLUGIN_EXPORT const SluicePluginInfo* sluice_plugin_info(void) { \
    return ::sluice::internal::PluginInfoFor<StageT>();                              \
  }

#endif  // SLUICE_PLUGIN_HPP_
