// Stage types for the recipe tests, registered from static descriptors as a linked-in plugin:
//   train    (model: model) -> model      params: epochs, lr, optimizer, augment {flip, crop}
//   distill  (teacher: model, student: model) -> model      params: temperature
//   evaluate (models: model list, baseline: metrics, optional) -> metrics
//   report   (metrics: metrics list, optional) -> nothing
//   ensemble (members: model list) -> models (a list)
#pragma once

#include "retort/plugin/registry.h"

namespace retort::recipe::testing {

// A registry holding the types above (built once).
const plugin::StageRegistry& test_registry();

}  // namespace retort::recipe::testing
