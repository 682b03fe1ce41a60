/* A plugin as a future, incompatible Sluice would build it: plain C, ABI major 99. */
#include <stddef.h>

#include "sluice/abi.h"

static SluiceStatus* Run(void* context) {
  (void)context;
  return NULL;
}

static const char kContract[] =
    "{\"name\":\"test-future\",\"version\":\"9.0.0\",\"kind\":\"other\",\"doc\":\"from the future\","
    "\"inputs\":[],\"outputs\":[],\"params\":[]}";

SLUICE_PLUGIN_EXPORT const SluicePluginInfo* sluice_plugin_info(void) {
  static const SluicePluginInfo info = {
      99,        0,  sizeof(SluicePluginInfo), 0, "test-future", "9.0.0", "other", "cxx=libstdc++;cxx11abi=1;torch=9.9",
      kContract, Run};
  return &info;
}
