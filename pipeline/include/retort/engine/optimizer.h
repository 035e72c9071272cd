// Optimizers over a plan's parameters. State (momentum, Adam moments) is allocated once at
// creation; step() only updates in place.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nlohmann/json_fwd.hpp"
#include "retort/core/status.h"
#include "retort/engine/plan.h"

namespace retort::engine {

struct OptimizerConfig {
  std::string type = "sgd";  // "sgd" or "adamw"
  float lr = 0.05f;
  float momentum = 0.9f;     // sgd
  bool nesterov = false;     // sgd
  float weight_decay = 0.0f; // sgd: L2 added to the gradient; adamw: decoupled
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;  // adamw
};

// Reads {"type", "lr", "momentum", "nesterov", "weight_decay", "beta1", "beta2", "eps"};
// `where` is the JSON path used in error messages.
Expected<OptimizerConfig> optimizer_config_from_json(const nlohmann::json& j, const std::string& where);

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // One update of every parameter with learning rate `lr`.
  virtual void step(float lr) = 0;
  // Called after step(): e.g. pruning masks re-applied. Optional.
  static Expected<std::unique_ptr<Optimizer>> create(const OptimizerConfig& config,
                                                     std::vector<Parameter> parameters);
};

}  // namespace retort::engine
