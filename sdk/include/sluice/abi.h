/* The C tier of the plugin ABI: what the host reads before it calls any C++.
 *
 * A plugin is a shared library exporting one C function, SLUICE_PLUGIN_ENTRY, that
 * returns a pointer to a SluicePluginInfo. The host reads abi_major/abi_minor/struct_size
 * first, then the toolchain key; only if both match does it use the C++ tier
 * (run_stage, which hands the stage a sluice::StageContext).
 *
 * Versioning (SDK 1.0 onwards). The SDK's version is the ABI's: SDK 1.3 is ABI 1.3.
 *   - A host runs a plugin when the majors are equal and the plugin's minor is not newer
 *     than the host's: a plugin built against SDK 1.0 runs in every 1.x host. A plugin
 *     that needs a newer minor is refused by name, with both versions and the fix.
 *   - A minor release only adds: fields appended to SluicePluginInfo (the host reads a
 *     field only when struct_size says the plugin filled it in, and uses its default
 *     otherwise), optional entry points, host services and new versions of them
 *     (sluice/services.hpp), non-virtual helpers. It never changes the core
 *     StageContext's virtual methods, a published service version, or the meaning of a
 *     field. Anything else is a new major.
 *   - The toolchain key (sluice/plugin.hpp) holds only what breaks the C++ tier's binary
 *     compatibility: the C++ standard library and its string ABI, and LibTorch's
 *     major.minor. A plugin with another key is refused before any C++ call.
 * Optional callbacks are NULL when absent. As in LLVM's PassPluginLibraryInfo, SQLite's
 * sqlite3_vfs (iVersion, szOsFile) and Triton's API minor versions.
 *
 * The same fields, serialized as JSON, are embedded in the library's ELF section
 * SLUICE_CONTRACT_SECTION by sluice_add_plugin(), so that `sluice validate` and
 * `sluice plugins` read a plugin's contract without loading it. */
#ifndef SLUICE_ABI_H_
#define SLUICE_ABI_H_

#include <stdint.h>

#include "sluice/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SLUICE_ABI_MAJOR 1
#define SLUICE_ABI_MINOR 2

/* Name of the exported entry point: const SluicePluginInfo* sluice_plugin_info(void). */
#define SLUICE_PLUGIN_ENTRY "sluice_plugin_info"
/* Optional second entry point, const char* sluice_plugin_error(void): why the first
 * returned NULL (a contract mistake, a throwing Describe()). The string is owned by the
 * plugin and lives until exit; "" when there is no error. Plugins without it are read
 * as before. */
#define SLUICE_PLUGIN_ERROR_ENTRY "sluice_plugin_error"
/* ELF section holding the JSON copy of the info (written at build time). */
#define SLUICE_CONTRACT_SECTION ".sluice_contract"

/* An error crossing the boundary. Created by sluice_status_new() (in libsluice_sdk, so
 * host and plugins share one allocator); whoever receives one owns it and releases it
 * with sluice_status_free(). sluice_status_new never returns NULL (NULL means success):
 * out of memory, it returns a shared "out of memory" error that sluice_status_free leaves
 * alone. */
typedef struct SluiceStatus SluiceStatus;

SLUICE_API SluiceStatus* sluice_status_new(int code, const char* message);
SLUICE_API int sluice_status_code(const SluiceStatus* status);
SLUICE_API const char* sluice_status_message(const SluiceStatus* status);
SLUICE_API void sluice_status_free(SluiceStatus* status);

typedef struct SluicePluginInfo {
  /* --- ABI 1.0: never reordered. --- */
  uint32_t abi_major;   /* SLUICE_ABI_MAJOR the plugin was built with */
  uint32_t abi_minor;   /* SLUICE_ABI_MINOR the plugin was built with */
  uint32_t struct_size; /* sizeof(SluicePluginInfo) as the plugin saw it */
  uint32_t reserved;    /* zero */
  const char* name;     /* unique plugin name used in pipeline files, e.g. "trainer" */
  const char* version;  /* the plugin's own version, e.g. "1.2.0" */
  const char* kind;     /* "data" | "model" | "train" | "eval" | "deploy" | "other" */
  /* SDK version, compiler, LibTorch version and _GLIBCXX_USE_CXX11_ABI, e.g.
   * "sdk=0.1;cxx=gcc-12;torch=1.13;cxx11abi=1". The C++ tier is used only when this
   * equals the host's key byte for byte. */
  const char* toolchain;
  /* The contract as JSON: doc, typed ports, parameter schema (see sluice/contract.hpp). */
  const char* contract;
  /* C++ tier: runs one stage. stage_context is a sluice::StageContext* owned by the
   * host and valid for the duration of the call. Returns NULL on success, otherwise an
   * error the host takes ownership of. Never throws. */
  SluiceStatus* (*run_stage)(void* stage_context);
} SluicePluginInfo;

/* Type of the entry point. Returns NULL only if the plugin could not describe itself.
 * The returned struct and its strings are owned by the plugin and live until exit
 * (plugins are never unloaded). */
typedef const SluicePluginInfo* (*SluicePluginEntryFn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SLUICE_ABI_H_ */
