// Concat along one axis: oneDNN concat forward; backward copies each input's slab of the
// output gradient back (per outer index, one contiguous run per input). Small outputs are
// copied on the calling thread: oneDNN's concat opens a parallel region whatever the size,
// which costs more than the copy (and much more on a loaded machine).
#include <cstring>
#include <unordered_map>

#include "broadcast.h"
#include "ops.h"

namespace retort::engine {
namespace {

class ConcatKernel final : public Kernel {
 public:
  ConcatKernel(const KernelContext& ctx, std::vector<Shape> inputs, Shape out, int axis)
      : engine_(ctx.engine),
        stream_(ctx.stream),
        in_shapes_(std::move(inputs)),
        out_shape_(std::move(out)),
        axis_(axis) {
    outer_ = 1;
    inner_ = 1;
    for (int i = 0; i < axis_; ++i) outer_ *= out_shape_[i];
    for (size_t i = axis_ + 1; i < out_shape_.size(); ++i) inner_ *= out_shape_[i];
  }

  std::vector<Shape> output_shapes() const override { return {out_shape_}; }

  Status bind(const Bindings& b) override {
    dy_ = b.output_grads[0];
    dx_ = b.input_grads;
    x_ = b.inputs;
    y_ = b.outputs[0];
    use_dnnl_ = shape_numel(out_shape_) > kParallelGrain;
    if (!use_dnnl_) return Status::Ok();
    try {
      // oneDNN rejects empty sources; they contribute nothing, so leave them out.
      std::vector<dnnl::memory::desc> srcs;
      std::vector<dnnl::memory> mems;
      for (size_t i = 0; i < in_shapes_.size(); ++i) {
        if (shape_numel(in_shapes_[i]) == 0) continue;
        srcs.push_back(dense_desc(in_shapes_[i]));
        mems.emplace_back(srcs.back(), engine_, b.inputs[i].data);
      }
      const dnnl::memory::desc dst = dense_desc(out_shape_);
      dnnl::primitive_attr attr;
      attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
      const dnnl::concat::primitive_desc pd(dst, axis_, srcs, engine_, attr);
      fwd_ = dnnl::concat(pd);
      for (size_t i = 0; i < mems.size(); ++i)
        fwd_args_[DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i)] = mems[i];
      fwd_args_[DNNL_ARG_DST] = dnnl::memory(dst, engine_, b.outputs[0].data);
      fwd_args_[DNNL_ARG_SCRATCHPAD] = dnnl::memory(pd.scratchpad_desc(), engine_);
    } catch (const dnnl::error& e) {
      return make_error(ErrorCode::kInternal, "oneDNN concat: ", e.what());
    }
    return Status::Ok();
  }

  void forward(bool /*training*/) override {
    if (use_dnnl_) {
      fwd_.execute(stream_, fwd_args_);
      stream_.wait();
      return;
    }
    const int64_t out_run = out_shape_[axis_] * inner_;
    int64_t start = 0;
    for (size_t i = 0; i < in_shapes_.size(); ++i) {
      const int64_t run = in_shapes_[i][axis_] * inner_;
      for (int64_t o = 0; o < outer_ && run > 0; ++o)
        std::memcpy(y_.data + o * out_run + start, x_[i].data + o * run,
                    static_cast<size_t>(run) * sizeof(float));
      start += run;
    }
  }

  void backward() override {
    const int64_t out_run = out_shape_[axis_] * inner_;
    int64_t start = 0;  // offset of input i's run within one outer slice of the output
    for (size_t i = 0; i < in_shapes_.size(); ++i) {
      const int64_t run = in_shapes_[i][axis_] * inner_;
      const View& dx = dx_[i];
      if (dx && run > 0) {
        if (!dy_) {
          std::memset(dx.data, 0, static_cast<size_t>(dx.numel()) * sizeof(float));
        } else {
          const float* dy = dy_.data + start;
          float* d = dx.data;
#pragma omp parallel for if (outer_ * run > kParallelGrain && outer_ > 1)
          for (int64_t o = 0; o < outer_; ++o)
            std::memcpy(d + o * run, dy + o * out_run, static_cast<size_t>(run) * sizeof(float));
        }
      }
      start += run;
    }
  }

 private:
  dnnl::engine engine_;
  dnnl::stream stream_;
  const std::vector<Shape> in_shapes_;
  const Shape out_shape_;
  const int axis_;
  int64_t outer_ = 1, inner_ = 1;
  bool use_dnnl_ = false;
  View y_, dy_;
  std::vector<View> x_, dx_;
  dnnl::concat fwd_;
  std::unordered_map<int, dnnl::memory> fwd_args_;
};

}  // namespace

Expected<std::unique_ptr<Kernel>> create_concat_kernel(const KernelContext& ctx) {
  const Node& node = ctx.node;
  if (node.inputs.empty())
    return make_error(ErrorCode::kInvalidArgument, node.describe(),
                      ": Concat needs at least one input");
  for (size_t i = 0; i < node.inputs.size(); ++i)
    if (!node.has_input(i))
      return make_error(ErrorCode::kInvalidArgument, node.describe(), ": input ", i,
                        " is empty; Concat inputs cannot be omitted");
  if (!node.has_attr("axis"))
    return make_error(ErrorCode::kInvalidArgument, node.describe(),
                      ": the axis attribute is required");
  const Shape& first = ctx.input_shapes[0];
  const int64_t rank = static_cast<int64_t>(first.size());
  if (rank == 0 || rank > DNNL_MAX_NDIMS)
    return make_error(ErrorCode::kUnsupported, node.describe(), ": input rank ", rank,
                      " is not supported (1 to ", DNNL_MAX_NDIMS, ")");
  int64_t axis = node.attr_int("axis", 0);
  if (axis < -rank || axis >= rank)
    return make_error(ErrorCode::kInvalidArgument, node.describe(), ": axis ", axis,
                      " is out of range for rank ", rank, " (valid: ", -rank, " to ", rank - 1,
                      ")");
  if (axis < 0) axis += rank;
  Shape out = first;
  out[axis] = 0;
  for (size_t i = 0; i < ctx.input_shapes.size(); ++i) {
    const Shape& s = ctx.input_shapes[i];
    bool match = static_cast<int64_t>(s.size()) == rank;
    for (int64_t d = 0; match && d < rank; ++d) match = d == axis || s[d] == first[d];
    if (!match)
      return make_error(ErrorCode::kInvalidArgument, node.describe(), ": input ", i, " ",
                        shape_to_string(s), " does not match input 0 ", shape_to_string(first),
                        " outside axis ", axis);
    out[axis] += s[axis];
  }
  return std::unique_ptr<Kernel>(
      new ConcatKernel(ctx, ctx.input_shapes, out, static_cast<int>(axis)));
}

}  // namespace retort::engine
