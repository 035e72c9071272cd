#include "recipe/test_registry.h"

#include <cstdlib>
#include <iostream>

#include "retort/plugin/sdk.h"

namespace retort::recipe::testing {
namespace {

int32_t never_run(const retort_host*, retort_stage_run*, char*, size_t) {
  return 1;
}

constexpr const char* kTrainSchema = R"({
  "type": "object", "additionalProperties": false,
  "properties": {
    "epochs": {"type": "integer", "minimum": 1, "default": 1},
    "lr": {"type": "number", "exclusiveMinimum": 0, "default": 0.1},
    "optimizer": {"enum": ["sgd", "adam"], "default": "sgd"},
    "augment": {"type": "object", "additionalProperties": false, "default": {},
                "properties": {"flip": {"type": "boolean", "default": false},
                               "crop": {"type": "integer", "minimum": 0, "default": 0}}}
  }
})";
constexpr const char* kDistillSchema = R"({
  "type": "object", "additionalProperties": false,
  "properties": {"temperature": {"type": "number", "exclusiveMinimum": 0, "default": 4}}
})";
constexpr const char* kOpenSchema = R"({"type": "object"})";

const retort_port_desc kModelIn[] = {{"model", RETORT_PORT_MODEL, 0, 0, "model to train"}};
const retort_port_desc kModelOut[] = {{"model", RETORT_PORT_MODEL, 0, 0, "trained model"}};
const retort_port_desc kDistillIn[] = {{"teacher", RETORT_PORT_MODEL, 0, 0, "teacher"},
                                       {"student", RETORT_PORT_MODEL, 0, 0, "student"}};
const retort_port_desc kEvaluateIn[] = {
    {"models", RETORT_PORT_MODEL, 1, 0, "models to measure"},
    {"baseline", RETORT_PORT_METRICS, 0, 1, "metrics to compare with"}};
const retort_port_desc kMetricsOut[] = {{"metrics", RETORT_PORT_METRICS, 0, 0, "metrics"}};
const retort_port_desc kReportIn[] = {{"metrics", RETORT_PORT_METRICS, 1, 1, "metrics"}};
const retort_port_desc kEnsembleIn[] = {{"members", RETORT_PORT_MODEL, 1, 0, "members"}};
const retort_port_desc kEnsembleOut[] = {{"models", RETORT_PORT_MODEL, 1, 0, "members, tuned"}};

const retort_stage_desc kStages[] = {
    {"train", "trains a model", kTrainSchema, kModelIn, 1, kModelOut, 1, 1, never_run, nullptr},
    {"distill", "distils", kDistillSchema, kDistillIn, 2, kModelOut, 1, 1, never_run, nullptr},
    {"evaluate", "measures", kOpenSchema, kEvaluateIn, 2, kMetricsOut, 1, 1, never_run, nullptr},
    {"report", "summarises", kOpenSchema, kReportIn, 1, nullptr, 0, 0, never_run, nullptr},
    {"ensemble", "tunes members", kOpenSchema, kEnsembleIn, 1, kEnsembleOut, 1, 1, never_run,
     nullptr},
};

const retort_plugin_info kInfo = {RETORT_PLUGIN_ABI_VERSION,
                                  sizeof(retort_plugin_info),
                                  "recipe-test",
                                  "1.0.0",
                                  RETORT_BUILD_FINGERPRINT,
                                  kStages,
                                  sizeof(kStages) / sizeof(kStages[0])};

}  // namespace

const plugin::StageRegistry& test_registry() {
  static const plugin::StageRegistry* registry = [] {
    auto* r = new plugin::StageRegistry;
    if (Status s = r->add(&kInfo, "test"); !s.ok()) {
      std::cerr << "test registry: " << s.message() << "\n";
      std::abort();
    }
    return r;
  }();
  return *registry;
}

}  // namespace retort::recipe::testing
