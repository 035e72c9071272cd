// QuantizeLinear and DequantizeLinear in float32: the fake quantization that quantization-aware
// training runs (PlanOptions::lower_int8 replaces the patterns with int8 primitives instead).
//
// The engine keeps every runtime value in float32, so QuantizeLinear writes the integer codes
// as floats; DequantizeLinear maps them back. Backward is the clipped straight-through
// estimator, split over the pair: DequantizeLinear passes dy * scale, QuantizeLinear divides by
// the scale and zeroes codes that saturated, so the pair's gradient is dy inside the range and
// 0 outside. The scale gets the LSQ gradient (Esser et al. 2020) when it is trainable: summed
// over both nodes it is round(x/s) - x/s inside the range and qmin - zp or qmax - zp outside.
//
// A QuantizeLinear that retort inserted may carry an entry in the model metadata
// (kQuantizationKey): a narrower code range (bit widths below 8) and an observer that updates
// the scale and zero point in training-mode forwards, like batch norm's running statistics.
#include <algorithm>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "ops.h"

namespace retort::engine {
namespace {

enum class Observer { kNone, kMinMax, kEma };

// What the metadata entry of a node says (defaults: plain ONNX semantics).
struct QuantSettings {
  int64_t qmin = 0, qmax = 255;
  Observer observer = Observer::kNone;
  float momentum = 0.01f;
  int64_t freeze_step = -1;
  bool symmetric = false;
  float grad_scale = 1.0f;  // LSQ's scale-gradient factor
};

Expected<QuantSettings> read_settings(const KernelContext& ctx, DType code_type) {
  QuantSettings s;
  if (code_type == DType::kInt8) {
    s.qmin = -128;
    s.qmax = 127;
  }
  if (ctx.metadata == nullptr) return s;
  auto it = ctx.metadata->find(kQuantizationKey);
  if (it == ctx.metadata->end()) return s;
  const nlohmann::json all = nlohmann::json::parse(it->second, nullptr, false);
  if (!all.is_object() || !all.contains(ctx.node.name)) return s;
  const nlohmann::json& e = all[ctx.node.name];
  const auto fail = [&](const std::string& what) {
    return make_error(ErrorCode::kInvalidArgument, ctx.node.describe(), ": metadata '",
                      kQuantizationKey, "' entry ", e.dump(), " ", what);
  };
  try {
    const int64_t lo = s.qmin, hi = s.qmax;
    s.qmin = e.value("qmin", lo);
    s.qmax = e.value("qmax", hi);
    if (s.qmin < lo || s.qmax > hi || s.qmin >= s.qmax)
      return fail("has a code range [" + std::to_string(s.qmin) + ", " + std::to_string(s.qmax) +
                  "] outside the zero point type's [" + std::to_string(lo) + ", " +
                  std::to_string(hi) + "]");
    const std::string observer = e.value("observer", std::string("none"));
    if (observer == "minmax")
      s.observer = Observer::kMinMax;
    else if (observer == "ema")
      s.observer = Observer::kEma;
    else if (observer != "none")
      return fail("names an unknown observer '" + observer + "'");
    s.momentum = e.value("momentum", s.momentum);
    s.freeze_step = e.value("freeze_step", s.freeze_step);
    s.symmetric = e.value("symmetric", s.symmetric);
    s.grad_scale = e.value("grad_scale", s.grad_scale);
  } catch (const nlohmann::json::exception& ex) {
    return fail(std::string("is malformed: ") + ex.what());
  }
  return s;
}

// How the scale (and zero point) index the data: `outer` blocks of `channels` x `inner`.
struct AxisLayout {
  int64_t outer = 1, channels = 1, inner = 1;
  int64_t channel(int64_t i) const { return (i / inner) % channels; }
};

Expected<AxisLayout> axis_layout(const KernelContext& ctx, const Shape& x, const Shape& scale) {
  AxisLayout l;
  const Node& node = ctx.node;
  if (scale.empty() || shape_numel(scale) == 1) {
    l.inner = shape_numel(x);
    return l;
  }
  if (scale.size() != 1)
    return make_error(ErrorCode::kInvalidArgument, node.describe(), ": scale ",
                      shape_to_string(scale), " must be a scalar or 1-D (per-axis)");
  int64_t axis = node.attr_int("axis", 1);
  const auto rank = static_cast<int64_t>(x.size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank)
    return make_error(ErrorCode::kInvalidArgument, node.describe(), ": axis ",
                      node.attr_int("axis", 1), " is out of range for input ", shape_to_string(x));
  if (x[axis] != scale[0])
    return make_error(ErrorCode::kInvalidArgument, node.describe(), ": per-axis scale has ",
                      scale[0], " entries but input ", shape_to_string(x), " has ", x[axis],
                      " along axis ", axis);
  l.channels = x[axis];
  for (int64_t d = 0; d < axis; ++d) l.outer *= x[d];
  for (int64_t d = axis + 1; d < rank; ++d) l.inner *= x[d];
  return l;
}

// Zero points are re-read every pass: an observer of another node sharing them (the pairs
// around a MaxPool share one scale and zero point) may have moved them. No allocation.
void refresh_zero_points(const Tensor* t, std::vector<float>& zp) {
  if (t == nullptr) return;
  for (size_t c = 0; c < zp.size(); ++c) {
    const int64_t i = t->numel() == 1 ? 0 : static_cast<int64_t>(c);
    zp[c] = t->dtype() == DType::kInt8 ? static_cast<float>(t->data<int8_t>()[i])
                                       : static_cast<float>(t->data<uint8_t>()[i]);
  }
}

// Zero points as floats per channel, read from an int8/uint8 initializer (absent: all 0).
Expected<std::vector<float>> read_zero_points(const KernelContext& ctx, size_t input,
                                              int64_t channels, DType* code_type) {
  *code_type = DType::kUInt8;
  std::vector<float> zp(static_cast<size_t>(channels), 0.0f);
  if (!ctx.node.has_input(input)) return zp;
  const Tensor* t = ctx.constants[input];
  if (t == nullptr || (t->dtype() != DType::kInt8 && t->dtype() != DType::kUInt8))
    return make_error(ErrorCode::kUnsupported, ctx.node.describe(), ": zero point '",
                      ctx.node.inputs[input], "' must be an int8 or uint8 initializer");
  if (t->numel() != 1 && t->numel() != channels)
    return make_error(ErrorCode::kInvalidArgument, ctx.node.describe(), ": zero point has ",
                      t->numel(), " entries but the scale has ", channels);
  *code_type = t->dtype();
  refresh_zero_points(t, zp);
  return zp;
}

// Round half to even, as ONNX specifies. Adding and subtracting 1.5 * 2^23 rounds in the
// default mode (nearest, ties to even) for |v| < 2^22 and vectorises, where nearbyint is a
// library call on baseline x86-64; larger values are saturated by the callers anyway. (The
// build never uses -ffast-math, which could cancel the two operations.)
inline float round_even(float v) {
  constexpr float kMagic = 12582912.0f;
  return (v + kMagic) - kMagic;
}

// Calls fn(channel, first, count) over the contiguous runs that share one scale, in parallel:
// per tensor, chunks of one run; per axis, the (outer, channel) blocks.
template <typename Fn>
void for_each_run(const AxisLayout& l, Fn fn) {
  const int64_t blocks = l.outer * l.channels;
  if (blocks == 1) {
    constexpr int64_t kChunk = 1 << 14;
    const int64_t chunks = (l.inner + kChunk - 1) / kChunk;
#pragma omp parallel for if (chunks > 4)
    for (int64_t k = 0; k < chunks; ++k) fn(0, k * kChunk, std::min(kChunk, l.inner - k * kChunk));
    return;
  }
#pragma omp parallel for if (blocks * l.inner > (1 << 16))
  for (int64_t b = 0; b < blocks; ++b) fn(b % l.channels, b * l.inner, l.inner);
}

class QuantizeLinearKernel final : public Kernel {
 public:
  QuantizeLinearKernel(Shape shape, AxisLayout layout, QuantSettings settings,
                       std::vector<float> zero_points, Tensor* zero_point_tensor)
      : shape_(std::move(shape)),
        layout_(layout),
        s_(settings),
        zp_(std::move(zero_points)),
        zp_tensor_(zero_point_tensor) {}

  std::vector<Shape> output_shapes() const override { return {shape_}; }
  bool differentiable_input(size_t i) const override { return i < 2; }
  bool runtime_input(size_t i) const override { return i < 2; }

  Status bind(const Bindings& b) override {
    x_ = b.inputs[0];
    scale_ = b.inputs[1];
    y_ = b.outputs[0];
    dy_ = b.output_grads[0];
    dx_ = b.input_grads[0];
    dscale_ = b.input_grads[1];
    running_min_.assign(zp_.size(), 0.0f);
    running_max_.assign(zp_.size(), 0.0f);
    batch_min_.assign(zp_.size(), 0.0f);
    batch_max_.assign(zp_.size(), 0.0f);
    return Status::Ok();
  }

  void forward(bool training) override {
    refresh_zero_points(zp_tensor_, zp_);
    if (training && s_.observer != Observer::kNone &&
        (s_.freeze_step < 0 || steps_ < s_.freeze_step)) {
      observe();
      ++steps_;
    }
    const float qmin = static_cast<float>(s_.qmin), qmax = static_cast<float>(s_.qmax);
    const float* x = x_.data;
    float* y = y_.data;
    for_each_run(layout_, [&](int64_t c, int64_t first, int64_t count) {
      const float s = scale_.data[scale_.numel() == 1 ? 0 : c], zp = zp_[c];
      for (int64_t i = first; i < first + count; ++i)
        y[i] = std::clamp(round_even(x[i] / s) + zp, qmin, qmax);
    });
  }

  void backward() override {
    refresh_zero_points(zp_tensor_, zp_);
    const float qmin = static_cast<float>(s_.qmin), qmax = static_cast<float>(s_.qmax);
    const int64_t n = x_.numel();
    if (dx_) {
      for_each_run(layout_, [&](int64_t c, int64_t first, int64_t count) {
        const float s = scale_.data[scale_.numel() == 1 ? 0 : c], zp = zp_[c];
        for (int64_t i = first; i < first + count; ++i) {
          const float v = round_even(x_.data[i] / s) + zp;
          dx_.data[i] = v >= qmin && v <= qmax ? dy_.data[i] / s : 0.0f;
        }
      });
    }
    if (dscale_) {
      // d code / d s = -x / s^2 inside the range (straight through the rounding), 0 outside.
      // Sequential per channel: the sum must not depend on the thread count.
      std::fill(dscale_.data, dscale_.data + dscale_.numel(), 0.0f);
      for (int64_t i = 0; i < n; ++i) {
        const int64_t c = layout_.channel(i);
        const size_t k = scale_.numel() == 1 ? 0 : static_cast<size_t>(c);
        const float s = scale_.data[k];
        const float v = round_even(x_.data[i] / s) + zp_[c];
        if (v >= qmin && v <= qmax) dscale_.data[k] -= dy_.data[i] * x_.data[i] / (s * s);
      }
      for (int64_t k = 0; k < dscale_.numel(); ++k) dscale_.data[k] *= s_.grad_scale;
    }
  }

 private:
  // Min and max of this batch per channel, folded into the running range; then the scale and
  // zero point that cover it (the range always includes 0 so that 0 is exact).
  void observe() {
    if (steps_ == 0) {
      // The moving average starts from the parameters the first training forward finds (the
      // calibration before QAT), not from the first batch alone.
      for (size_t c = 0; c < zp_.size(); ++c) {
        const float s = scale_.data[scale_.numel() == 1 ? 0 : c];
        running_min_[c] = (static_cast<float>(s_.qmin) - zp_[c]) * s;
        running_max_[c] = (static_cast<float>(s_.qmax) - zp_[c]) * s;
      }
    }
    std::fill(batch_min_.begin(), batch_min_.end(), std::numeric_limits<float>::infinity());
    std::fill(batch_max_.begin(), batch_max_.end(), -std::numeric_limits<float>::infinity());
    const float* x = x_.data;
    for (int64_t o = 0; o < layout_.outer; ++o)
      for (int64_t c = 0; c < layout_.channels; ++c) {
        const float* p = x + (o * layout_.channels + c) * layout_.inner;
        float lo = batch_min_[c], hi = batch_max_[c];
        for (int64_t j = 0; j < layout_.inner; ++j) {
          lo = std::min(lo, p[j]);
          hi = std::max(hi, p[j]);
        }
        batch_min_[c] = lo;
        batch_max_[c] = hi;
      }
    for (size_t c = 0; c < zp_.size(); ++c) {
      if (s_.observer == Observer::kEma) {
        running_min_[c] += s_.momentum * (batch_min_[c] - running_min_[c]);
        running_max_[c] += s_.momentum * (batch_max_[c] - running_max_[c]);
      } else {
        running_min_[c] = batch_min_[c];
        running_max_[c] = batch_max_[c];
      }
      const float lo = std::min(running_min_[c], 0.0f), hi = std::max(running_max_[c], 0.0f);
      const float qmin = static_cast<float>(s_.qmin), qmax = static_cast<float>(s_.qmax);
      float scale, zp;
      if (s_.symmetric) {
        // Signed codes around 0: qmax covers max |x| (the zero point stays what it is).
        scale = std::max(-lo, hi) / qmax;
        zp = zp_[c];
      } else {
        scale = (hi - lo) / (qmax - qmin);
        zp = scale > 0 ? std::clamp(round_even(qmin - lo / scale), qmin, qmax) : zp_[c];
      }
      if (!(scale > std::numeric_limits<float>::min())) scale = 1.0f;  // all zeros: any scale
      scale_.data[scale_.numel() == 1 ? 0 : c] = scale;
      set_zero_point(c, zp);
    }
  }

  void set_zero_point(size_t c, float zp) {
    zp_[c] = zp;
    if (zp_tensor_ == nullptr) return;
    const int64_t i = zp_tensor_->numel() == 1 ? 0 : static_cast<int64_t>(c);
    if (zp_tensor_->dtype() == DType::kInt8)
      zp_tensor_->data<int8_t>()[i] = static_cast<int8_t>(zp);
    else
      zp_tensor_->data<uint8_t>()[i] = static_cast<uint8_t>(zp);
  }

  const Shape shape_;
  const AxisLayout layout_;
  const QuantSettings s_;
  std::vector<float> zp_;
  Tensor* zp_tensor_;  // the model's zero point initializer, updated by the observer
  View x_, scale_, y_, dy_, dx_, dscale_;
  std::vector<float> running_min_, running_max_, batch_min_, batch_max_;
  int64_t steps_ = 0;
};

class DequantizeLinearKernel final : public Kernel {
 public:
  DequantizeLinearKernel(Shape shape, AxisLayout layout, std::vector<float> zero_points,
                         const Tensor* zero_point_tensor, const Tensor* constant_codes,
                         float grad_scale)
      : shape_(std::move(shape)),
        layout_(layout),
        zp_(std::move(zero_points)),
        zp_tensor_(zero_point_tensor),
        codes_(constant_codes),
        grad_scale_(grad_scale) {}

  std::vector<Shape> output_shapes() const override { return {shape_}; }
  bool differentiable_input(size_t i) const override {
    return (i == 0 && codes_ == nullptr) || i == 1;
  }
  bool runtime_input(size_t i) const override { return (i == 0 && codes_ == nullptr) || i == 1; }

  Status bind(const Bindings& b) override {
    q_ = b.inputs[0];
    scale_ = b.inputs[1];
    y_ = b.outputs[0];
    dy_ = b.output_grads[0];
    dq_ = b.input_grads[0];
    dscale_ = b.input_grads[1];
    if (codes_ != nullptr) {
      // Stored integer codes (an exported int8 weight): the plan never changes them.
      code_storage_ = Tensor(DType::kFloat32, shape_);
      float* q = code_storage_.data<float>();
      for (int64_t i = 0; i < codes_->numel(); ++i) q[i] = code_at(i);
      q_ = View{q, shape_};
    }
    return Status::Ok();
  }

  void forward(bool /*training*/) override {
    refresh_zero_points(zp_tensor_, zp_);
    const float* q = q_.data;
    float* y = y_.data;
    for_each_run(layout_, [&](int64_t c, int64_t first, int64_t count) {
      const float s = scale_.data[scale_.numel() == 1 ? 0 : c], zp = zp_[c];
      for (int64_t i = first; i < first + count; ++i) y[i] = (q[i] - zp) * s;
    });
  }

  void backward() override {
    const int64_t n = q_.numel();
    if (dq_) {
      for_each_run(layout_, [&](int64_t c, int64_t first, int64_t count) {
        const float s = scale_.data[scale_.numel() == 1 ? 0 : c];
        for (int64_t i = first; i < first + count; ++i) dq_.data[i] = dy_.data[i] * s;
      });
    }
    if (dscale_) {
      std::fill(dscale_.data, dscale_.data + dscale_.numel(), 0.0f);
      for (int64_t i = 0; i < n; ++i) {
        const int64_t c = layout_.channel(i);
        dscale_.data[scale_.numel() == 1 ? 0 : c] += dy_.data[i] * (q_.data[i] - zp_[c]);
      }
      for (int64_t k = 0; k < dscale_.numel(); ++k) dscale_.data[k] *= grad_scale_;
    }
  }

 private:
  float code_at(int64_t i) const {
    switch (codes_->dtype()) {
      case DType::kInt8:
        return static_cast<float>(codes_->data<int8_t>()[i]);
      case DType::kUInt8:
        return static_cast<float>(codes_->data<uint8_t>()[i]);
      default:
        return static_cast<float>(codes_->data<int32_t>()[i]);
    }
  }

  const Shape shape_;
  const AxisLayout layout_;
  std::vector<float> zp_;
  const Tensor* zp_tensor_;
  const Tensor* codes_;
  const float grad_scale_;
  Tensor code_storage_;
  View q_, scale_, y_, dy_, dq_, dscale_;
};

Status check_scale(const KernelContext& ctx) {
  const Node& node = ctx.node;
  if (node.inputs.size() < 2 || node.inputs.size() > 3 || !node.has_input(0) || !node.has_input(1))
    return make_error(ErrorCode::kInvalidArgument, node.describe(), ": ", node.op_type,
                      " takes x, scale and an optional zero point");
  if (ctx.constants[1] != nullptr && ctx.constants[1]->dtype() != DType::kFloat32)
    return make_error(ErrorCode::kUnsupported, node.describe(), ": scale '", node.inputs[1],
                      "' must be float32");
  return Status::Ok();
}

}  // namespace

Expected<std::unique_ptr<Kernel>> create_quantize_linear_kernel(const KernelContext& ctx) {
  RETORT_RETURN_IF_ERROR(check_scale(ctx));
  const Shape& x = ctx.input_shapes[0];
  RETORT_ASSIGN_OR_RETURN(AxisLayout layout, axis_layout(ctx, x, ctx.input_shapes[1]));
  DType code_type;
  RETORT_ASSIGN_OR_RETURN(std::vector<float> zp,
                          read_zero_points(ctx, 2, layout.channels, &code_type));
  RETORT_ASSIGN_OR_RETURN(QuantSettings settings, read_settings(ctx, code_type));
  // The observer writes the model's zero point in place, as batch norm does its statistics.
  Tensor* zp_tensor = ctx.node.has_input(2) ? const_cast<Tensor*>(ctx.constants[2]) : nullptr;
  if (settings.observer != Observer::kNone && settings.symmetric &&
      std::any_of(zp.begin(), zp.end(), [](float z) { return z != 0.0f; }))
    return make_error(ErrorCode::kInvalidArgument, ctx.node.describe(),
                      ": a symmetric observer needs zero points of 0");
  return std::unique_ptr<Kernel>(
      new QuantizeLinearKernel(x, layout, settings, std::move(zp), zp_tensor));
}

Expected<std::unique_ptr<Kernel>> create_dequantize_linear_kernel(const KernelContext& ctx) {
  RETORT_RETURN_IF_ERROR(check_scale(ctx));
  const Shape& x = ctx.input_shapes[0];
  const Tensor* codes = ctx.constants[0];
  if (codes != nullptr && codes->dtype() != DType::kInt8 && codes->dtype() != DType::kUInt8 &&
      codes->dtype() != DType::kInt32)
    return make_error(ErrorCode::kUnsupported, ctx.node.describe(), ": input '", ctx.node.inputs[0],
                      "' has dtype ", dtype_name(codes->dtype()),
                      "; DequantizeLinear reads int8, uint8 or int32 codes");
  RETORT_ASSIGN_OR_RETURN(AxisLayout layout, axis_layout(ctx, x, ctx.input_shapes[1]));
  DType code_type;
  RETORT_ASSIGN_OR_RETURN(std::vector<float> zp,
                          read_zero_points(ctx, 2, layout.channels, &code_type));
  RETORT_ASSIGN_OR_RETURN(QuantSettings settings, read_settings(ctx, code_type));
  return std::unique_ptr<Kernel>(new DequantizeLinearKernel(
      x, layout, std::move(zp), ctx.node.has_input(2) ? ctx.constants[2] : nullptr, codes,
      settings.grad_scale));
}

}  // namespace retort::engine
