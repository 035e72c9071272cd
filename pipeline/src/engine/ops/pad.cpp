// Pad (ONNX opset 11-19: pads as a constant input, optional constant_value and axes inputs;
// opset 2's attributes too). Modes constant, reflect, edge, wrap; negative pads crop. Plain
// loops over precomputed per-axis index maps: forward gathers, backward scatter-adds (a crop for
// constant mode, sums of mirrored positions for reflect/edge/wrap).
#include <algorithm>
#include <string>

#include "ops.h"
#include "retort/core/checked_alloc.h"

namespace retort::engine {
namespace {

enum class Mode { kConstant, kReflect, kEdge, kWrap };

// Source index along an axis of size n for output position o, or -1 for the constant.
int64_t source_index(Mode mode, int64_t o, int64_t pad_begin, int64_t n) {
  int64_t i = o - pad_begin;
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case Mode::kConstant:
      return -1;
    case Mode::kEdge:
      return i < 0 ? 0 : n - 1;
    case Mode::kWrap:
      return ((i % n) + n) % n;
    case Mode::kReflect: {
      if (n == 1) return 0;
      const int64_t period = 2 * (n - 1);  // reflection without repeating the edge
      i = ((i % period) + period) % period;
      return i < n ? i : period - i;
    }
  }
  return -1;
}

class PadKernel final : public Kernel {
 public:
  PadKernel(Shape x, Shape y, std::vector<std::vector<int64_t>> maps, bool injective_all,
            std::vector<bool> injective, float value, bool runtime_value)
      : x_shape_(std::move(x)),
        y_shape_(std::move(y)),
        maps_(std::move(maps)),
        injective_all_(injective_all),
        injective_(std::move(injective)),
        value_(value),
        runtime_value_(runtime_value) {
    const size_t r = x_shape_.size();
    x_strides_.assign(r, 1);
    for (size_t d = r - 1; d-- > 0;) x_strides_[d] = x_strides_[d + 1] * x_shape_[d + 1];
  }

  std::vector<Shape> output_shapes() const override { return {y_shape_}; }
  bool runtime_input(size_t i) const override { return i == 0 || (i == 2 && runtime_value_); }
  bool differentiable_input(size_t i) const override { return runtime_input(i); }

  Status bind(const Bindings& b) override {
    x_ = b.inputs[0].data;
    y_ = b.outputs[0].data;
    if (runtime_value_) value_in_ = b.inputs[2].data;
    if (!b.input_grads.empty()) dx_ = b.input_grads[0].data;
    if (runtime_value_ && b.input_grads.size() > 2) dvalue_ = b.input_grads[2].data;
    if (!b.output_grads.empty()) dy_ = b.output_grads[0].data;
    return Status::Ok();
  }

  void forward(bool /*training*/) override {
    const float value = runtime_value_ ? *value_in_ : value_;
    const int64_t row = y_shape_.back(), rows = shape_numel(y_shape_) / std::max<int64_t>(row, 1);
    const std::vector<int64_t>& last = maps_.back();
#pragma omp parallel for if (rows > 16)
    for (int64_t r = 0; r < rows; ++r) {
      float* out = y_ + r * row;
      const int64_t src = row_source(r);
      if (src < 0) {
        std::fill(out, out + row, value);
        continue;
      }
      const float* in = x_ + src;
      for (int64_t o = 0; o < row; ++o) out[o] = last[o] >= 0 ? in[last[o]] : value;
    }
  }

  void backward() override {
    if (dx_) std::fill(dx_, dx_ + shape_numel(x_shape_), 0.0f);
    if (!dy_) {
      if (dvalue_) *dvalue_ = 0.0f;
      return;
    }
    const int64_t row = y_shape_.back(), rows = shape_numel(y_shape_) / std::max<int64_t>(row, 1);
    const std::vector<int64_t>& last = maps_.back();
    // Rows are independent across the leading axes whose map is one-to-one; the rest of the
    // axes (mirrored ones) are accumulated by one thread to avoid write races.
    int64_t blocks = 1;
    for (size_t d = 0; d + 1 < y_shape_.size() && (injective_all_ || injective_[d]); ++d)
      blocks *= y_shape_[d];
    const int64_t per_block = rows / blocks;
    double dvalue = 0.0;
#pragma omp parallel for reduction(+ : dvalue) if (blocks > 1)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      for (int64_t r = blk * per_block; r < (blk + 1) * per_block; ++r) {
        const float* g = dy_ + r * row;
        const int64_t src = row_source(r);
        if (src < 0) {
          for (int64_t o = 0; o < row; ++o) dvalue += g[o];
          continue;
        }
        float* gx = dx_ ? dx_ + src : nullptr;
        for (int64_t o = 0; o < row; ++o) {
          if (last[o] < 0) {
            dvalue += g[o];
          } else if (gx) {
            gx[last[o]] += g[o];
          }
        }
      }
    }
    if (dvalue_) *dvalue_ = static_cast<float>(dvalue);
  }

 private:
  // Offset in x of the row that output row r reads (last axis excluded), or -1 when the row
  // lies in constant padding.
  int64_t row_source(int64_t r) const {
    int64_t offset = 0;
    for (size_t d = y_shape_.size() - 1; d-- > 0;) {
      const int64_t o = r % y_shape_[d];
      r /= y_shape_[d];
      const int64_t i = maps_[d][o];
      if (i < 0) return -1;
      offset += i * x_strides_[d];
    }
    return offset;
  }

  Shape x_shape_, y_shape_;
  std::vector<std::vector<int64_t>> maps_;  // per axis: output position -> input index or -1
  bool injective_all_;
  std::vector<bool> injective_;
  std::vector<int64_t> x_strides_;
  float value_;
  bool runtime_value_;
  const float* x_ = nullptr;
  const float* value_in_ = nullptr;
  float* y_ = nullptr;
  float* dx_ = nullptr;
  float* dvalue_ = nullptr;
  const float* dy_ = nullptr;
};

}  // namespace

Expected<std::unique_ptr<Kernel>> create_pad_kernel(const KernelContext& ctx) {
  const Node& node = ctx.node;
  auto fail = [&](ErrorCode code, auto&&... parts) -> Status {
    return make_error(code, node.describe(), ": ", parts...);
  };
  if (!node.has_input(0)) return fail(ErrorCode::kInvalidArgument, "input data is missing");
  const Shape& x = ctx.input_shapes[0];
  const int64_t rank = static_cast<int64_t>(x.size());
  if (rank == 0) return fail(ErrorCode::kInvalidArgument, "cannot pad a scalar");

  const std::string mode_name = node.attr_string("mode", "constant");
  Mode mode;
  if (mode_name == "constant") {
    mode = Mode::kConstant;
  } else if (mode_name == "reflect") {
    mode = Mode::kReflect;
  } else if (mode_name == "edge") {
    mode = Mode::kEdge;
  } else if (mode_name == "wrap") {
    mode = Mode::kWrap;
  } else {
    return fail(ErrorCode::kUnsupported, "mode '", mode_name,
                "' is not supported (supported: constant, reflect, edge, wrap)");
  }

  std::vector<int64_t> pads;
  if (node.has_input(1)) {
    if (!ctx.constants[1])
      return fail(ErrorCode::kUnsupported,
                  "pads must be a constant (an initializer): output shapes are fixed when the "
                  "plan is compiled");
    pads = ctx.constants[1]->to_int64_vector();
  } else {
    pads = node.attr_ints("pads");  // opset < 11
  }

  std::vector<int64_t> axes;
  if (node.has_input(3)) {
    if (!ctx.constants[3]) return fail(ErrorCode::kUnsupported, "axes must be a constant");
    for (int64_t a : ctx.constants[3]->to_int64_vector()) {
      if (a < -rank || a >= rank)
        return fail(ErrorCode::kInvalidArgument, "axis ", a, " is out of range for data ",
                    shape_to_string(x));
      axes.push_back(a < 0 ? a + rank : a);
    }
  } else {
    for (int64_t a = 0; a < rank; ++a) axes.push_back(a);
  }
  const size_t n_axes = axes.size();
  if (pads.size() != 2 * n_axes)
    return fail(ErrorCode::kInvalidArgument, "pads ", shape_to_string(pads), " must have ",
                2 * n_axes, " values (all begins, then all ends) for data ", shape_to_string(x));
  std::vector<int64_t> begin(rank, 0), end(rank, 0);
  for (size_t j = 0; j < n_axes; ++j) {
    begin[axes[j]] = pads[j];
    end[axes[j]] = pads[n_axes + j];
  }

  float value = node.attr_float("value", 0.0f);  // opset < 11
  bool runtime_value = false;
  if (node.has_input(2)) {
    if (ctx.input_shapes[2].size() > 1 || shape_numel(ctx.input_shapes[2]) != 1)
      return fail(ErrorCode::kInvalidArgument, "constant_value ",
                  shape_to_string(ctx.input_shapes[2]), " must be a scalar");
    if (ctx.constants[2]) {
      if (ctx.constants[2]->dtype() != DType::kFloat32)
        return fail(ErrorCode::kUnsupported, "constant_value must be float32");
      value = ctx.constants[2]->data<float>()[0];
    } else {
      runtime_value = true;
    }
  }

  Shape y(rank);
  for (int64_t d = 0; d < rank; ++d) {
    // The pads come from the file: a sum that overflows is as wrong as one that is too large.
    if (__builtin_add_overflow(x[d], begin[d], &y[d]) ||
        __builtin_add_overflow(y[d], end[d], &y[d]))
      return fail(ErrorCode::kInvalidArgument, "pads ", shape_to_string(pads), " overflow axis ", d,
                  " of data ", shape_to_string(x));
  }
  // Checked before the index maps below are sized from it (the plan checks the buffer itself).
  if (Status s = check_buffer_size(DType::kFloat32, y, "output " + shape_to_string(y)); !s.ok())
    return fail(ErrorCode::kInvalidArgument, s.message(), "; pads ", shape_to_string(pads),
                " are wrong");
  std::vector<std::vector<int64_t>> maps(rank);
  std::vector<bool> injective(rank);
  for (int64_t d = 0; d < rank; ++d) {
    if (y[d] < 1)
      return fail(ErrorCode::kInvalidArgument, "pads ", shape_to_string(pads), " leave axis ", d,
                  " of data ", shape_to_string(x), " empty");
    if (mode != Mode::kConstant && x[d] == 0 && y[d] > 0)
      return fail(ErrorCode::kInvalidArgument, "mode '", mode_name, "' cannot pad the empty axis ",
                  d);
    maps[d].resize(y[d]);
    for (int64_t o = 0; o < y[d]; ++o) maps[d][o] = source_index(mode, o, begin[d], x[d]);
    injective[d] = begin[d] <= 0 && end[d] <= 0;
  }
  return std::unique_ptr<Kernel>(std::make_unique<PadKernel>(
      x, y, std::move(maps), mode == Mode::kConstant, std::move(injective), value, runtime_value));
}

}  // namespace retort::engine
