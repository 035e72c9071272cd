// Fixture: a descriptor from a (pretend) future ABI version, written by hand as a plugin
// built against another retort would carry it.
#include "retort/plugin/abi.h"

namespace {

int32_t run(const retort_host*, retort_stage_run*, char*, size_t) {
  return 0;
}

const retort_stage_desc kStages[] = {{"fixture-future", "from the future", R"({"type": "object"})",
                                      nullptr, 0, nullptr, 0, 0, run, nullptr}};
const retort_plugin_info kInfo = {999,     sizeof(retort_plugin_info),    "fixture-wrong-abi",
                                  "9.0.0", "retort-9.0.0/gcc-99/abi-999", kStages,
                                  1};

}  // namespace

extern "C" __attribute__((visibility("default"))) const retort_plugin_info* retort_plugin_entry(
    void) {
  return &kInfo;
}
