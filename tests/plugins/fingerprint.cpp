// Fixture: the right ABI version but built by another retort release and compiler.
#include "retort/plugin/abi.h"

namespace {

int32_t run(const retort_host*, retort_stage_run*, char*, size_t) {
  return 0;
}

const retort_stage_desc kStages[] = {{"fixture-stale", "stale build", R"({"type": "object"})",
                                      nullptr, 0, nullptr, 0, 0, run, nullptr}};
const retort_plugin_info kInfo = {RETORT_PLUGIN_ABI_VERSION,
                                  sizeof(retort_plugin_info),
                                  "fixture-fingerprint",
                                  "1.0.0",
                                  "retort-0.0.1/gcc-4/abi-1",
                                  kStages,
                                  1};

}  // namespace

extern "C" __attribute__((visibility("default"))) const retort_plugin_info* retort_plugin_entry(
    void) {
  return &kInfo;
}
