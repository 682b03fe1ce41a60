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
#include <vector>

#include "sluice/abi.h"
#include "sluice/config.h"
#include "sluice/contract.hpp"
#include "sluice/stage.hpp"
#include "sluice/status.hpp"

#define SLUICE_STRINGIFY_INNER(x) #x
#define SLUICE_STRINGIFY(x) SLUICE_STRINGIFY_INNER(x)

// The C++ standard library: its types (std::string, std::shared_ptr) cross the boundary.
// GCC and Clang both build against libstdc++ compatibly; libc++ is another ABI.
#if defined(_LIBCPP_VERSION)
#define SLUICE_CXX_LIBRARY "libc++"
#elif defined(__GLIBCXX__)
#define SLUICE_CXX_LIBRARY "libstdc++"
#else
#define SLUICE_CXX_LIBRARY "unknown"
#endif

#ifdef _GLIBCXX_USE_CXX11_ABI
#define SLUICE_CXX11_ABI SLUICE_STRINGIFY(_GLIBCXX_USE_CXX11_ABI)
#else
#define SLUICE_CXX11_ABI "none"
#endif

// The toolchain key: a plugin's C++ tier is used only when it equals the host's. It holds
// only what breaks binary compatibility of the C++ tier: the C++ standard library and its
// string ABI, and LibTorch's major.minor (its tensors and modules cross the boundary).
// Not the SDK version (that is the ABI major.minor's job) nor the compiler.
#define SLUICE_TOOLCHAIN_KEY "cxx=" SLUICE_CXX_LIBRARY ";cxx11abi=" SLUICE_CXX11_ABI ";torch=" SLUICE_TORCH_VERSION

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

// What a plugin says about itself, built once from StageT::Describe() and owned by the
// plugin until exit (plugins are never unloaded): the info the host reads, or why there
// is none.
struct Described {
  Contract contract;
  std::string contract_json;
  std::string error;  // empty when `info` is filled in
  SluicePluginInfo info{};
};

// "its Describe() threw: ..." or "plugin 'x': parameter 'y': ..." (the contract's
// problems, one per line).
SLUICE_API std::string DescribeError(const Contract& contract, const std::vector<std::string>& problems);

template <class StageT>
Described& DescribedFor() noexcept {
  static Described described = [] {
    Described d;
    try {
      d.contract = StageT::Describe();
      const std::vector<std::string> problems = d.contract.Problems();
      if (!problems.empty()) {
        d.error = DescribeError(d.contract, problems);
      } else {
        d.contract_json = d.contract.ToJson();
      }
    } catch (const std::exception& e) {
      d.error = std::string("its Describe() threw: ") + e.what();
    } catch (...) {
      d.error = "its Describe() threw an exception that is not a std::exception";
    }
    return d;
  }();
  static const bool filled = [] {
    Described& d = described;
    if (d.error.empty()) {
      d.info = {SLUICE_ABI_MAJOR,
                SLUICE_ABI_MINOR,
                sizeof(SluicePluginInfo),
                0,
                d.contract.name().c_str(),
                d.contract.version().c_str(),
                KindName(d.contract.kind()),
                SLUICE_TOOLCHAIN_KEY,
                d.contract_json.c_str(),
                &RunStage<StageT>};
    }
    return true;
  }();
  (void)filled;
  return described;
}

template <class StageT>
const SluicePluginInfo* PluginInfoFor() noexcept {
  const Described& d = DescribedFor<StageT>();
  return d.error.empty() ? &d.info : nullptr;
}

template <class StageT>
const char* PluginErrorFor() noexcept {
  return DescribedFor<StageT>().error.c_str();
}

}  // namespace sluice::internal

// Defines the plugin's entry points for the Stage class `StageT`. Use once per library.
// sluice_plugin_error says why sluice_plugin_info returned NULL.
#define SLUICE_PLUGIN(StageT)                                                        \
  extern "C" SLUICE_PLUGIN_EXPORT const SluicePluginInfo* sluice_plugin_info(void) { \
    return ::sluice::internal::PluginInfoFor<StageT>();                              \
  }                                                                                  \
  extern "C" SLUICE_PLUGIN_EXPORT const char* sluice_plugin_error(void) {            \
    return ::sluice::internal::PluginErrorFor<StageT>();                             \
  }

#endif  // SLUICE_PLUGIN_HPP_
