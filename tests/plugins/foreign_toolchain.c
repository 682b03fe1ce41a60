/* A plugin built against another LibTorch: right ABI, wrong toolchain key. */
#include <stddef.h>

#include "sluice/abi.h"

static SluiceStatus* Run(void* context) {
  (void)context;
  return NULL;
}

static const char kContract[] =
    "{\"name\":\"test-other-torch\",\"version\":\"1.0.0\",\"kind\":\"other\",\"doc\":\"other toolchain\","
    "\"inputs\":[],\"outputs\":[],\"params\":[]}";

SLUICE_PLUGIN_EXPORT const SluicePluginInfo* sluice_plugin_info(void) {
  static const SluicePluginInfo info = {SLUICE_ABI_MAJOR,
                                        SLUICE_ABI_MINOR,
                                        sizeof(SluicePluginInfo),
                                        0,
                                        "test-other-torch",
                                        "1.0.0",
                                        "other",
                                        "cxx=libstdc++;cxx11abi=1;torch=0.1",
                                        kContract,
                                        Run};
  return &info;
}
