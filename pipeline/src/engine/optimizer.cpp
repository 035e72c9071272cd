#include "retort/engine/optimizer.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "nlohmann/json.hpp"

namespace retort::engine {
namespace {

// The update is memory-bound (it streams weights, gradients and state once per step): above
// this size both cores stream their half. Elementwise, so the result does not depend on threads.
constexpr int64_t kParallelUpdate = int64_t{1} << 15;

class Sgd final : public Optimizer {
 public:
  Sgd(const OptimizerConfig& c, std::vector<Parameter> params)
      : Optimizer(c.clip_grad_norm, std::move(params)), c_(c) {
    if (c_.momentum != 0.0f)
      for (const Parameter& p : params_) velocity_.emplace_back(DType::kFloat32, p.value.shape);
  }
  void update(size_t k, float lr) override {
    float* __restrict w = params_[k].value.data;
    const float* __restrict g = params_[k].grad.data;
    const int64_t n = params_[k].value.numel();
    const float wd = c_.weight_decay, mu = c_.momentum;
    if (mu == 0.0f) {
#pragma omp parallel for simd schedule(static) if (n > kParallelUpdate)
      for (int64_t i = 0; i < n; ++i) w[i] -= lr * (g[i] + wd * w[i]);
      return;
    }
    float* __restrict v = velocity_[k].data<float>();
    if (c_.nesterov) {
#pragma omp parallel for simd schedule(static) if (n > kParallelUpdate)
      for (int64_t i = 0; i < n; ++i) {
        const float d = g[i] + wd * w[i];
        v[i] = mu * v[i] + d;
        w[i] -= lr * (d + mu * v[i]);
      }
    } else {
#pragma omp parallel for simd schedule(static) if (n > kParallelUpdate)
      for (int64_t i = 0; i < n; ++i) {
        v[i] = mu * v[i] + g[i] + wd * w[i];
        w[i] -= lr * v[i];
      }
    }
  }

 private:
  OptimizerConfig c_;
  std::vector<Tensor> velocity_;
};

class AdamW final : public Optimizer {
 public:
  AdamW(const OptimizerConfig& c, std::vector<Parameter> params)
      : Optimizer(c.clip_grad_norm, std::move(params)), c_(c) {
    for (const Parameter& p : params_) {
      m_.emplace_back(DType::kFloat32, p.value.shape);
      v_.emplace_back(DType::kFloat32, p.value.shape);
    }
  }
  void begin_update() override {
    ++t_;
    c1_ = 1.0f / (1.0f - std::pow(c_.beta1, static_cast<float>(t_)));
    c2_ = 1.0f / (1.0f - std::pow(c_.beta2, static_cast<float>(t_)));
  }
  void update(size_t k, float lr) override {
    const float b1 = c_.beta1, b2 = c_.beta2, eps = c_.eps, c1 = c1_, c2 = c2_;
    const float decay = 1.0f - lr * c_.weight_decay;
    float* __restrict w = params_[k].value.data;
    const float* __restrict g = params_[k].grad.data;
    float* __restrict m = m_[k].data<float>();
    float* __restrict v = v_[k].data<float>();
    const int64_t n = params_[k].value.numel();
#pragma omp parallel for simd schedule(static) if (n > kParallelUpdate)
    for (int64_t i = 0; i < n; ++i) {
      m[i] = b1 * m[i] + (1.0f - b1) * g[i];
      v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
      w[i] = w[i] * decay - lr * (m[i] * c1) / (std::sqrt(v[i] * c2) + eps);
    }
  }

 private:
  OptimizerConfig c_;
  std::vector<Tensor> m_, v_;
  int64_t t_ = 0;
  float c1_ = 1.0f, c2_ = 1.0f;  // bias corrections of step t_
};

}  // namespace

Optimizer::Optimizer(float clip_grad_norm, std::vector<Parameter> parameters)
    : params_(std::move(parameters)),
      clip_grad_norm_(clip_grad_norm),
      updated_(params_.size(), 0) {}

void Optimizer::backward_and_step(Plan& plan, float lr) {
  if (clip_grad_norm_ > 0) {
    plan.backward();
    step(lr);
    return;
  }
  begin_update();
  plan_ = &plan;
  lr_ = lr;
  std::fill(updated_.begin(), updated_.end(), 0);
  plan.backward(*this);
  plan_ = nullptr;
  // Parameters the plan does not have (none when created from plan.parameters()).
  for (size_t k = 0; k < params_.size(); ++k)
    if (!updated_[k]) update(k, lr);
}

void Optimizer::parameter_final(size_t plan_index) {
  // Matched by gradient buffer: a handful of comparisons, and the optimizer may hold a subset.
  const float* grad = plan_->parameters()[plan_index].grad.data;
  for (size_t k = 0; k < params_.size(); ++k) {
    if (params_[k].grad.data == grad && !updated_[k]) {
      update(k, lr_);
      updated_[k] = 1;
      return;
    }
  }
}

void Optimizer::step(float lr) {
  if (clip_grad_norm_ > 0) {
    // Sum of squares in double over fixed chunks, added in order: the same norm for the same
    // gradients whatever the thread count (an OpenMP reduction combines in arrival order).
    double sum = 0;
    for (const Parameter& p : params_) {
      const View& g = p.grad;
      constexpr int64_t kChunks = 64;
      std::array<double, kChunks> partial{};
      const float* d = g.data;
      const int64_t n = g.numel(), chunk = (n + kChunks - 1) / kChunks;
#pragma omp parallel for schedule(static) if (n > kParallelUpdate)
      for (int64_t c = 0; c < kChunks; ++c) {
        double s = 0;
        for (int64_t i = c * chunk, end = std::min(n, i + chunk); i < end; ++i)
          s += static_cast<double>(d[i]) * d[i];
        partial[c] = s;
      }
      for (double s : partial) sum += s;
    }
    last_grad_norm_ = static_cast<float>(std::sqrt(sum));
    if (last_grad_norm_ > clip_grad_norm_) {
      const float scale = clip_grad_norm_ / last_grad_norm_;
      for (const Parameter& p : params_) {
        const View& g = p.grad;
        float* d = g.data;
        const int64_t n = g.numel();
#pragma omp parallel for simd schedule(static) if (n > kParallelUpdate)
        for (int64_t i = 0; i < n; ++i) d[i] *= scale;
      }
    }
  }
  begin_update();
  for (size_t k = 0; k < params_.size(); ++k) update(k, lr);
}

Expected<OptimizerConfig> optimizer_config_from_json(const nlohmann::json& j,
                                                     const std::string& where) {
  OptimizerConfig c;
  if (!j.is_object())
    return make_error(ErrorCode::kInvalidArgument, where, ": expected an object, found ",
                      j.type_name());
  for (const auto& item : j.items()) {
    // Named references rather than a structured binding: lambdas may capture them.
    const std::string& key = item.key();
    const nlohmann::json& value = item.value();
    std::string path = where;
    path += '/';
    path += key;
    auto number = [&](float& out) -> Status {
      if (!value.is_number())
        return make_error(ErrorCode::kInvalidArgument, path, ": expected a number, found ",
                          value.type_name());
      out = value.get<float>();
      return Status::Ok();
    };
    if (key == "type") {
      if (!value.is_string() || (value != "sgd" && value != "adamw"))
        return make_error(ErrorCode::kInvalidArgument, path,
                          ": expected \"sgd\" or \"adamw\", found ", value.dump());
      c.type = value.get<std::string>();
    } else if (key == "lr") {
      RETORT_RETURN_IF_ERROR(number(c.lr));
      if (!(c.lr > 0))
        return make_error(ErrorCode::kInvalidArgument, path, ": must be > 0, found ", c.lr);
    } else if (key == "momentum") {
      RETORT_RETURN_IF_ERROR(number(c.momentum));
      if (c.momentum < 0 || c.momentum >= 1)
        return make_error(ErrorCode::kInvalidArgument, path, ": must be in [0, 1), found ",
                          c.momentum);
    } else if (key == "nesterov") {
      if (!value.is_boolean())
        return make_error(ErrorCode::kInvalidArgument, path, ": expected true or false, found ",
                          value.dump());
      c.nesterov = value.get<bool>();
    } else if (key == "weight_decay") {
      RETORT_RETURN_IF_ERROR(number(c.weight_decay));
      if (c.weight_decay < 0)
        return make_error(ErrorCode::kInvalidArgument, path, ": must be >= 0");
    } else if (key == "beta1") {
      RETORT_RETURN_IF_ERROR(number(c.beta1));
    } else if (key == "beta2") {
      RETORT_RETURN_IF_ERROR(number(c.beta2));
    } else if (key == "eps") {
      RETORT_RETURN_IF_ERROR(number(c.eps));
    } else if (key == "clip_grad_norm") {
      RETORT_RETURN_IF_ERROR(number(c.clip_grad_norm));
      if (!(c.clip_grad_norm >= 0))
        return make_error(ErrorCode::kInvalidArgument, path,
                          ": must be >= 0 (0 turns clipping off), found ", c.clip_grad_norm);
    } else {
      return make_error(
          ErrorCode::kInvalidArgument, path,
          ": unknown optimizer key; known: type, lr, momentum, nesterov, weight_decay, "
          "beta1, beta2, eps, clip_grad_norm");
    }
  }
  if (c.nesterov && c.momentum == 0.0f)
    return make_error(ErrorCode::kInvalidArgument, where, "/nesterov: Nesterov needs momentum > 0");
  return c;
}

Expected<std::unique_ptr<Optimizer>> Optimizer::create(const OptimizerConfig& config,
                                                       std::vector<Parameter> parameters) {
  for (const Parameter& p : parameters)
    if (!p.grad)
      return make_error(ErrorCode::kInvalidArgument, "parameter '", p.name,
                        "' has no gradient buffer");
  if (config.type == "sgd")
    return std::unique_ptr<Optimizer>(new Sgd(config, std::move(parameters)));
  if (config.type == "adamw")
    return std::unique_ptr<Optimizer>(new AdamW(config, std::move(parameters)));
  return make_error(ErrorCode::kInvalidArgument, "unknown optimizer '", config.type,
                    "' (sgd, adamw)");
}

}  // namespace retort::engine
