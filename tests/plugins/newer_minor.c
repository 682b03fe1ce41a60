/* A plugin built against a later SDK minor (1.3) than this host implements (1.2). */
#include <stddef.h>

#include "sluice/abi.h"

static SluiceStatus* Run(void* context) {
  (void)context;
  return NULL;
}

static const char kContract[] =
    "{\"name\":\"test-newer-minor\",\"version\":\"1.0.0\",\"kind\":\"other\",\"doc\":\"from SDK 1.3\","
    "\"inputs\":[],\"outputs\":[],\"params\":[]}";

SLUICE_PLUGIN_EXPORT const SluicePluginInfo* sluice_plugin_info(void) {
  static const SluicePluginInfo info = {1,       3,       sizeof(SluicePluginInfo), 0,         "test-newer-minor",
                                        "1.0.0", "other", "cxx=libstdc++",          kContract, Run};
  return &info;
}
