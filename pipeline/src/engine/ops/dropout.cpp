// Dropout (opset 13: ratio and training_mode as optional inputs; older graphs: `ratio`
// attribute). In training the mask comes from a counter-based hash of (seed, step, element), so
// it is reproducible, independent of the thread count, and needs no sequential RNG state.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "broadcast.h"
#include "engine/vector_clones.h"
#include "ops.h"

namespace retort::engine {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// A 32-bit integer mixer (xorshift-multiply); 32-bit lanes keep the mask loop vectorisable.
inline uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7FEB352DU;
  x ^= x >> 15;
  x *= 0x846CA68BU;
  x ^= x >> 16;
  return x;
}

// Elements per parallel chunk of the mask loops (a multiple of every vector width).
constexpr int64_t kChunk = 4096;

// The mask of elements [begin, end): keep element i unless its hash falls below `threshold`
// (ratio * 2^32); kept elements are scaled. Written so that it vectorises: no branch, no
// masked load (a dropped element is x * 0, as PyTorch's x * mask * scale), and a 32-bit
// counter, as the hash takes i modulo 2^32 (a 64-bit one costs lane narrowing every step).
RETORT_VECTOR_CLONES
void dropout_range(int64_t begin, int64_t end, uint32_t k0, uint32_t k1, uint32_t threshold,
                   float scale, const float* __restrict x, float* __restrict y,
                   uint8_t* __restrict keep) {
  const uint32_t first = static_cast<uint32_t>(begin) + k0;
  const auto count = static_cast<uint32_t>(end - begin);  // at most kChunk
  x += begin;
  y += begin;
  keep += begin;
#pragma omp simd
  for (uint32_t j = 0; j < count; ++j) {
    const uint32_t h = mix32(mix32(first + j) ^ k1);
    const bool k = h >= threshold;
    keep[j] = k;
    y[j] = x[j] * (k ? scale : 0.0f);
  }
}

// f(begin, end) over [0, n) in chunks of kChunk, the chunks shared among the threads.
template <typename F>
void for_each_chunk(int64_t n, F f) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t c = 0; c < chunks; ++c) f(c * kChunk, std::min(n, (c + 1) * kChunk));
}

RETORT_VECTOR_CLONES
void dropout_backward_range(int64_t begin, int64_t end, float scale, const float* __restrict dy,
                            const uint8_t* __restrict keep, float* __restrict dx) {
#pragma omp simd
  for (int64_t i = begin; i < end; ++i) dx[i] = dy[i] * (keep[i] ? scale : 0.0f);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ULL;
  return h;
}

class DropoutKernel final : public Kernel {
 public:
  DropoutKernel(Shape shape, uint64_t seed, float ratio, int ratio_input, bool allow_training,
                bool with_mask)
      : shape_(std::move(shape)),
        seed_(seed),
        ratio_(ratio),
        ratio_input_(ratio_input),
        allow_training_(allow_training),
        with_mask_(with_mask) {}

  std::vector<Shape> output_shapes() const override {
    if (with_mask_) return {shape_, shape_};
    return {shape_};
  }
  // Input 1 (ratio) is a runtime scalar only when it is not an initializer; training_mode is
  // always a compile-time constant.
  bool runtime_input(size_t i) const override { return i == 0 || (i == 1 && ratio_input_ == 1); }
  bool differentiable_input(size_t i) const override { return i == 0; }

  Status bind(const Bindings& b) override {
    x_ = b.inputs[0];
    y_ = b.outputs[0];
    if (with_mask_) mask_out_ = b.outputs[1];
    if (ratio_input_ == 1) ratio_view_ = b.inputs[1];
    dx_ = b.input_grads[0];
    dy_ = b.output_grads[0];
    keep_.assign(static_cast<size_t>(shape_numel(shape_)), 0);  // first touch here, not in step
    return Status::Ok();
  }

  void forward(bool training) override {
    const int64_t n = shape_numel(shape_);
    float ratio = ratio_view_ ? ratio_view_.data[0] : ratio_;
    // Out-of-range runtime ratios are clamped (compile-time ones were validated).
    if (!(ratio > 0.0f)) ratio = 0.0f;
    last_training_ = training && allow_training_ && ratio > 0.0f;
    if (!last_training_) {
      std::memcpy(y_.data, x_.data, static_cast<size_t>(n) * sizeof(float));
      if (mask_out_) std::fill_n(mask_out_.data, n, 1.0f);
      return;
    }
    const uint64_t key = splitmix64(seed_ ^ splitmix64(step_++));
    uint8_t* keep = keep_.data();
    if (ratio >= 1.0f) {  // a runtime ratio of 1 or more drops everything
      scale_ = 0.0f;
      std::fill_n(keep, n, uint8_t{0});
      std::fill_n(y_.data, n, 0.0f);
    } else {
      const uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
      const auto threshold = static_cast<uint32_t>(std::ldexp(static_cast<double>(ratio), 32));
      scale_ = 1.0f / (1.0f - ratio);
      const float scale = scale_;
      const float* x = x_.data;
      float* y = y_.data;
      for_each_chunk(n, [&](int64_t begin, int64_t end) {
        dropout_range(begin, end, k0, k1, threshold, scale, x, y, keep);
      });
    }
    if (mask_out_) {
      float* m = mask_out_.data;
#pragma omp parallel for simd if (n > kParallelGrain)
      for (int64_t i = 0; i < n; ++i) m[i] = keep[i] ? 1.0f : 0.0f;
    }
  }

  void backward() override {
    if (!dx_) return;
    const int64_t n = dx_.numel();
    if (!dy_) {
      std::memset(dx_.data, 0, static_cast<size_t>(n) * sizeof(float));
      return;
    }
    if (!last_training_) {
      std::memcpy(dx_.data, dy_.data, static_cast<size_t>(n) * sizeof(float));
      return;
    }
    const float scale = scale_;
    const float* dy = dy_.data;
    float* dx = dx_.data;
    const uint8_t* keep = keep_.data();
    for_each_chunk(n, [&](int64_t begin, int64_t end) {
      dropout_backward_range(begin, end, scale, dy, keep, dx);
    });
  }

 private:
  const Shape shape_;
  const uint64_t seed_;
  const float ratio_;
  const int ratio_input_;  // 1 when the ratio is read from a runtime input each step
  const bool allow_training_;
  const bool with_mask_;
  View x_, y_, mask_out_, ratio_view_, dx_, dy_;
  std::vector<uint8_t> keep_;  // mask of the last training forward
  uint64_t step_ = 0;
  float scale_ = 1.0f;
  bool last_training_ = false;
};

}  // namespace

Expected<std::unique_ptr<Kernel>> create_dropout_kernel(const KernelContext& ctx) {
  const Node& node = ctx.node;
  if (!node.has_input(0) || node.inputs.size() > 3)
    return make_error(ErrorCode::kInvalidArgument, node.describe(),
                      ": Dropout takes data and optional ratio and training_mode inputs");
  if (node.outputs.empty() || node.outputs[0].empty() || node.outputs.size() > 2)
    return make_error(ErrorCode::kInvalidArgument, node.describe(),
                      ": Dropout has at most two outputs (output, mask)");
  float ratio = node.attr_float("ratio", 0.5f);  // attribute form: opset <= 11
  int ratio_input = 0;
  if (node.has_input(1)) {
    const Tensor* r = ctx.constants[1];
    if (shape_numel(ctx.input_shapes[1]) != 1)
      return make_error(ErrorCode::kInvalidArgument, node.describe(),
                        ": ratio must be a scalar, got ", shape_to_string(ctx.input_shapes[1]));
    if (r == nullptr) {
      ratio_input = 1;
    } else if (r->dtype() != DType::kFloat32) {
      return make_error(ErrorCode::kUnsupported, node.describe(), ": ratio has dtype ",
                        dtype_name(r->dtype()), "; only float32 is supported");
    } else {
      ratio = r->data<float>()[0];
    }
  }
  if (ratio_input == 0 && !(ratio >= 0.0f && ratio < 1.0f))
    return make_error(ErrorCode::kInvalidArgument, node.describe(), ": ratio ", ratio,
                      " is outside [0, 1)");
  bool allow_training = true;
  if (node.has_input(2)) {
    const Tensor* t = ctx.constants[2];
    if (t == nullptr || t->numel() != 1)
      return make_error(ErrorCode::kUnsupported, node.describe(),
                        ": training_mode must be a scalar initializer (the engine's own "
                        "training flag decides otherwise)");
    allow_training = t->to_int64_vector()[0] != 0;
  }
  if (node.attr_int("is_test", 0) != 0) allow_training = false;  // opset < 7
  // Reproducible per plan seed, node and the optional `seed` attribute.
  const uint64_t seed = splitmix64(ctx.seed ^ fnv1a(node.name + "/" + node.outputs[0])) ^
                        splitmix64(static_cast<uint64_t>(node.attr_int("seed", 0)));
  const bool with_mask = node.outputs.size() == 2 && !node.outputs[1].empty();
  return std::unique_ptr<Kernel>(
      new DropoutKernel(ctx.input_shapes[0], seed, ratio, ratio_input, allow_training, with_mask));
}

}  // namespace retort::engine
