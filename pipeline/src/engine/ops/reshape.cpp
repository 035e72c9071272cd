// Flatten, Reshape, Identity: the data is unchanged, only the shape differs. Buffers are
// separate (the plan does not alias values), so forward and backward are copies.
#include <algorithm>
#include <cstring>
#include <string>

#include "ops.h"

namespace retort::engine {
namespace {

// Large copies are split across threads: one core does not saturate memory bandwidth here.
void copy_floats(float* dst, const float* src, int64_t n) {
  constexpr int64_t kChunk = 1 << 16;
  if (n <= kChunk) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * kChunk, len = std::min(kChunk, n - begin);
    std::memcpy(dst + begin, src + begin, static_cast<size_t>(len) * sizeof(float));
  }
}

class CopyKernel final : public Kernel {
 public:
  explicit CopyKernel(Shape out) : out_(std::move(out)) {}

  std::vector<Shape> output_shapes() const override { return {out_}; }
  // Only the data input is a tensor; Reshape's shape is read at compile time.
  bool runtime_input(size_t i) const override { return i == 0; }
  bool differentiable_input(size_t i) const override { return i == 0; }

  Status bind(const Bindings& b) override {
    x_ = b.inputs[0];
    y_ = b.outputs[0];
    dx_ = b.input_grads[0];
    dy_ = b.output_grads[0];
    return Status::Ok();
  }

  void forward(bool /*training*/) override { copy_floats(y_.data, x_.data, y_.numel()); }

  void backward() override {
    if (!dx_) return;
    if (dy_) {
      copy_floats(dx_.data, dy_.data, dx_.numel());
    } else {
      std::memset(dx_.data, 0, static_cast<size_t>(dx_.numel()) * sizeof(float));
    }
  }

 private:
  const Shape out_;
  View x_, y_, dx_, dy_;
};

Status expect_inputs(const Node& node, size_t min, size_t max) {
  const bool ok = node.has_input(0) && node.inputs.size() >= min && node.inputs.size() <= max;
  if (ok) return Status::Ok();
  return make_error(
      ErrorCode::kInvalidArgument, node.describe(), ": ", node.op_type, " takes ",
      min == max ? std::to_string(min) : std::to_string(min) + " to " + std::to_string(max),
      " input(s), got ", node.inputs.size());
}

}  // namespace

Expected<std::unique_ptr<Kernel>> create_flatten_kernel(const KernelContext& ctx) {
  const Node& node = ctx.node;
  RETORT_RETURN_IF_ERROR(expect_inputs(node, 1, 1));
  const Shape& in = ctx.input_shapes[0];
  const int64_t rank = static_cast<int64_t>(in.size());
  int64_t axis = node.attr_int("axis", 1);
  if (axis < -rank || axis > rank)
    return make_error(ErrorCode::kInvalidArgument, node.describe(), ": axis ", axis,
                      " is out of range for input ", shape_to_string(in), " (valid: ", -rank,
                      " to ", rank, ")");
  if (axis < 0) axis += rank;
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < rank; ++i) (i < axis ? outer : inner) *= in[i];
  return std::unique_ptr<Kernel>(new CopyKernel({outer, inner}));
}

Expected<std::unique_ptr<Kernel>> create_reshape_kernel(const KernelContext& ctx) {
  const Node& node = ctx.node;
  RETORT_RETURN_IF_ERROR(expect_inputs(node, 2, 2));
  const Tensor* shape_tensor = ctx.constants[1];
  if (!node.has_input(1) || shape_tensor == nullptr || shape_tensor->dtype() == DType::kFloat32)
    return make_error(ErrorCode::kUnsupported, node.describe(),
                      ": the target shape (input 1) must be an int64 initializer; shapes "
                      "computed at run time are not supported");
  if (shape_tensor->rank() > 1)
    return make_error(ErrorCode::kInvalidArgument, node.describe(),
                      ": the target shape must be "
                      "1-D, got a tensor of shape ",
                      shape_to_string(shape_tensor->shape()));
  const Shape& in = ctx.input_shapes[0];
  const std::vector<int64_t> requested = shape_tensor->to_int64_vector();
  const bool allow_zero = node.attr_int("allowzero", 0) != 0;
  const std::string what =
      std::string(": cannot reshape ") + shape_to_string(in) + " to " + shape_to_string(requested);
  Shape out(requested.size());
  int infer_at = -1;
  bool has_zero = false;
  int64_t known = 1;
  for (size_t i = 0; i < requested.size(); ++i) {
    int64_t d = requested[i];
    if (d == -1) {
      if (infer_at >= 0)
        return make_error(ErrorCode::kInvalidArgument, node.describe(), what,
                          ": at most one dimension may be -1 (inferred), found -1 at positions ",
                          infer_at, " and ", i);
      infer_at = static_cast<int>(i);
      continue;
    }
    if (d < -1)
      return make_error(ErrorCode::kInvalidArgument, node.describe(), what, ": dimension ", i,
                        " is ", d, "; only -1 (infer), 0 or positive sizes are allowed");
    if (d == 0) {
      has_zero = true;
      if (!allow_zero) {
        // 0 copies the input's dimension at the same position.
        if (i >= in.size())
          return make_error(ErrorCode::kInvalidArgument, node.describe(), what, ": dimension ", i,
                            " is 0 (copy the input's), but the input has only ", in.size(),
                            " dimensions");
        d = in[i];
      }
    }
    out[i] = d;
    known *= d;
  }
  if (allow_zero && has_zero && infer_at >= 0)
    return make_error(ErrorCode::kInvalidArgument, node.describe(), what,
                      ": with allowzero=1 the shape may not hold both 0 and -1");
  const int64_t total = shape_numel(in);
  if (infer_at >= 0) {
    if (known == 0 || total % known != 0)
      return make_error(ErrorCode::kInvalidArgument, node.describe(), what,
                        ": the -1 dimension cannot be inferred (", total,
                        " elements are not a multiple of ", known, ")");
    out[infer_at] = total / known;
  }
  if (shape_numel(out) != total)
    return make_error(ErrorCode::kInvalidArgument, node.describe(), what,
                      ": element counts differ (", total, " vs ", shape_numel(out), ")");
  return std::unique_ptr<Kernel>(new CopyKernel(out));
}

Expected<std::unique_ptr<Kernel>> create_identity_kernel(const KernelContext& ctx) {
  RETORT_RETURN_IF_ERROR(expect_inputs(ctx.node, 1, 1));
  return std::unique_ptr<Kernel>(new CopyKernel(ctx.input_shapes[0]));
}

}  // namespace retort::engine
