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
  float momentum = 0.9f;      // sgd
  bool nesterov = false;      // sgd
  float weight_decay = 0.0f;  // sgd: L2 added to the gradient; adamw: decoupled
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;  // adamw
  // When > 0, every step first scales all gradients together so that their global L2 norm is
  // at most this (Pascanu et al.). Guards against the large first-step gradients that a
  // confident teacher's soft targets can give.
  float clip_grad_norm = 0.0f;
};

// Reads {"type", "lr", "momentum", "nesterov", "weight_decay", "beta1", "beta2", "eps",
// "clip_grad_norm"};
// `where` is the JSON path used in error messages.
Expected<OptimizerConfig> optimizer_config_from_json(const nlohmann::json& j,
                                                     const std::string& where);

class Optimizer : private ParameterObserver {
 public:
  ~Optimizer() override = default;
  // One update of every parameter with learning rate `lr` (gradients clipped first when the
  // config asks for it).
  void step(float lr);
  // plan.backward() then step(lr), with the same numbers, but each parameter is updated as
  // soon as the backward is done with it, while its gradient is still in cache: the update
  // streams weights, gradients and optimizer state, and after a whole backward they come from
  // memory (on the hinton student's 1.3 M parameters, 0.2 ms hot against up to 1.4 ms cold).
  // `plan` must be the plan whose parameters this optimizer was created with. With gradient
  // clipping, which needs every gradient first, it is plan.backward() then step(lr).
  void backward_and_step(Plan& plan, float lr);
  // The global L2 norm of the gradients seen by the last step, before clipping (0 until the
  // first step, and when clipping is off: it is only computed when needed).
  float last_grad_norm() const { return last_grad_norm_; }
  static Expected<std::unique_ptr<Optimizer>> create(const OptimizerConfig& config,
                                                     std::vector<Parameter> parameters);

 protected:
  Optimizer(float clip_grad_norm, std::vector<Parameter> parameters);
  // An update is begin_update() once, then update(k, lr) for every parameter k in any order.
  virtual void begin_update() {}
  virtual void update(size_t k, float lr) = 0;
  std::vector<Parameter> params_;  // the plan's parameters, in a fixed order

 private:
  void parameter_final(size_t plan_index) override;

  float clip_grad_norm_ = 0.0f;
  float last_grad_norm_ = 0.0f;
  // backward_and_step's state: the plan and rate of the step under way, which parameters it
  // has updated (sized at creation: nothing is allocated per step).
  const Plan* plan_ = nullptr;
  float lr_ = 0.0f;
  std::vector<char> updated_;
};

}  // namespace retort::engine
