// Conv (ONNX opset 11+): 1-D/2-D/3-D, groups (incl. depthwise), dilations, auto_pad, optional
// bias. oneDNN forward_training + backward data + backward weights, built once (the pattern of
// oneDNN's cnn_training_f32). Primitives choose their own layouts (format_tag::any) and the
// plain NC... buffers of the plan are reordered at the edges: on this machine the blocked
// kernels win clearly even with the reorders (about 1.6-1.9x on fwd + bwd; the measurement
// is in conv_test.cpp's header).
//
// A node fused by the plan (chain_fusion.h) also runs the Relu that followed the Conv, as a
// post-op, and optionally the MaxPool after it, on the convolution's own layout: the conv and
// ReLU outputs then live only inside this kernel, and the plain buffers are the chain's input
// and its last output.
#include <algorithm>
#include <optional>
#include <unordered_map>

#include "engine/chain_fusion.h"
#include "ops.h"
#include "spatial_util.h"

namespace retort::engine {
namespace {

using spatial::Edge;
using tag = dnnl::memory::format_tag;

// Weights [M, C/g, k...] viewed as oneDNN's grouped [g, M/g, C/g, k...] (same bytes).
dnnl::memory::desc weights_plain_desc(const Shape& w, int64_t group) {
  if (group == 1) return plain_desc(w);
  Shape g{group, w[0] / group};
  g.insert(g.end(), w.begin() + 1, w.end());
  static const tag kTags[] = {tag::undef, tag::undef, tag::undef,
                              tag::goiw,  tag::goihw, tag::goidhw};
  return dnnl::memory::desc(to_dims(g), dnnl::memory::data_type::f32, kTags[w.size()]);
}

dnnl::memory::desc any_desc(const dnnl::memory::dims& dims) {
  return dnnl::memory::desc(dims, dnnl::memory::data_type::f32, tag::any);
}

// What a fused node runs after the convolution.
struct Tail {
  bool relu = false;
  std::optional<spatial::Window> pool;  // max pooling over the ReLU output
  Shape out_shape;                      // the chain's output (the pool's, else the conv's)
};

class ConvKernel final : public Kernel {
 public:
  ConvKernel(const KernelContext& ctx, Shape x, Shape w, bool has_bias, int64_t group,
             spatial::Window win, Shape y, Tail tail)
      : eng_(ctx.engine),
        stream_(ctx.stream),
        x_shape_(std::move(x)),
        w_shape_(std::move(w)),
        y_shape_(std::move(y)),
        has_bias_(has_bias),
        group_(group),
        win_(std::move(win)),
        tail_(std::move(tail)),
        constant_w_(ctx.constant_weights && ctx.constants.size() > 1 && ctx.constants[1]) {}

  // Builds the primitive descriptors (compile time, so unsupported configurations fail early).
  Status init(const std::string& where) {
    try {
      const auto x_dims = to_dims(x_shape_), y_dims = to_dims(y_shape_);
      const auto w_dims = weights_plain_desc(w_shape_, group_).dims();
      const auto b_desc = has_bias_ ? plain_desc({w_shape_[0]}) : dnnl::memory::desc();
      const auto strides = spatial::to_dnnl(win_.strides), dil = win_.dnnl_dilations();
      const auto pl = spatial::to_dnnl(win_.pad_begin), pr = spatial::to_dnnl(win_.dnnl_pad_end);
      const auto algo = dnnl::algorithm::convolution_direct;
      const auto attr = spatial::Scratchpad::attr();
      auto x_md = any_desc(x_dims), w_md = any_desc(w_dims), y_md = any_desc(y_dims);

      dnnl::convolution_forward::desc fwd(dnnl::prop_kind::forward_training, algo, x_md, w_md,
                                          b_desc, y_md, strides, dil, pl, pr);
      auto fwd_attr = spatial::Scratchpad::attr();
      if (tail_.relu) {
        dnnl::post_ops ops;
        ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
        fwd_attr.set_post_ops(ops);
      }
      fwd_pd_ = dnnl::convolution_forward::primitive_desc(fwd, fwd_attr, eng_);
      dnnl::convolution_backward_data::desc bwd_data(algo, x_md, w_md, y_md, strides, dil, pl, pr);
      bwd_data_pd_ = dnnl::convolution_backward_data::primitive_desc(bwd_data, attr, eng_, fwd_pd_);
      dnnl::convolution_backward_weights::desc bwd_w(algo, x_md, w_md, b_desc, y_md, strides, dil,
                                                     pl, pr);
      bwd_weights_pd_ =
          dnnl::convolution_backward_weights::primitive_desc(bwd_w, attr, eng_, fwd_pd_);
      if (tail_.relu) init_tail(attr);
    } catch (const dnnl::error& e) {
      return make_error(ErrorCode::kUnsupported, where,
                        ": oneDNN has no convolution for this configuration (input ",
                        shape_to_string(x_shape_), ", weights ", shape_to_string(w_shape_),
                        ", group ", group_, "): ", e.what());
    }
    return Status::Ok();
  }

  std::vector<Shape> output_shapes() const override {
    return {tail_.relu ? tail_.out_shape : y_shape_};
  }

  Status bind(const Bindings& b) override {
    try {
      const auto x_plain = plain_desc(x_shape_), y_plain = plain_desc(y_shape_);
      const auto w_plain = weights_plain_desc(w_shape_, group_);
      x_.init(x_plain, b.inputs[0].data, fwd_pd_.src_desc(), Edge::Direction::kIn, eng_);
      w_.init(w_plain, b.inputs[1].data, fwd_pd_.weights_desc(), Edge::Direction::kIn, eng_);
      if (constant_w_) {  // reordered once: the weights do not change while the plan lives
        w_.sync(stream_);
        stream_.wait();
      }
      if (tail_.relu) {
        bind_tail_forward(b);
      } else {
        y_.init(y_plain, b.outputs[0].data, fwd_pd_.dst_desc(), Edge::Direction::kOut, eng_);
      }
      fwd_ = dnnl::convolution_forward(fwd_pd_);
      scratch_.reserve(fwd_pd_);
      fwd_args_ = {
          {DNNL_ARG_SRC, x_.prim()}, {DNNL_ARG_WEIGHTS, w_.prim()}, {DNNL_ARG_DST, y_.prim()}};
      if (has_bias_)
        fwd_args_[DNNL_ARG_BIAS] = dnnl::memory(plain_desc({w_shape_[0]}), eng_, b.inputs[2].data);

      for (size_t i = 0; i < b.input_grads.size(); ++i)
        if (b.input_grads[i]) grads_.push_back(b.input_grads[i]);
      has_dy_ = b.output_grads.size() > 0 && b.output_grads[0];
      need_dx_ = has_dy_ && b.input_grads.size() > 0 && b.input_grads[0];
      const bool need_dw = b.input_grads.size() > 1 && b.input_grads[1];
      const bool need_db = has_bias_ && b.input_grads.size() > 2 && b.input_grads[2];
      need_dweights_ = has_dy_ && (need_dw || need_db);
      // The gradient at the convolution's output: the plan's buffer, or for a fused node the
      // one its ReLU backward writes.
      dnnl::memory dy;
      if (has_dy_)
        dy = tail_.relu ? bind_tail_backward(b)
                        : dnnl::memory(y_plain, eng_, b.output_grads[0].data);

      if (need_dx_) {
        dy_data_.init(dy, bwd_data_pd_.diff_dst_desc(), Edge::Direction::kIn, eng_);
        w_data_.init_shared(w_plain, b.inputs[1].data, bwd_data_pd_.weights_desc(), w_, eng_);
        dx_.init(x_plain, b.input_grads[0].data, bwd_data_pd_.diff_src_desc(),
                 Edge::Direction::kOut, eng_);
        bwd_data_ = dnnl::convolution_backward_data(bwd_data_pd_);
        scratch_.reserve(bwd_data_pd_);
        bwd_data_args_ = {{DNNL_ARG_DIFF_DST, dy_data_.prim()},
                          {DNNL_ARG_WEIGHTS, w_data_.prim()},
                          {DNNL_ARG_DIFF_SRC, dx_.prim()}};
      }
      if (need_dweights_) {
        dy_w_.init_shared(dy, bwd_weights_pd_.diff_dst_desc(), dy_data_, eng_);
        x_w_.init_shared(x_plain, b.inputs[0].data, bwd_weights_pd_.src_desc(), x_, eng_);
        // A frozen weight with a trainable bias (or the reverse) still needs somewhere to write.
        if (need_dw) {
          dw_.init(w_plain, b.input_grads[1].data, bwd_weights_pd_.diff_weights_desc(),
                   Edge::Direction::kOut, eng_);
          dw_mem_ = dw_.prim();
        } else {
          dw_mem_ = dnnl::memory(bwd_weights_pd_.diff_weights_desc(), eng_);
        }
        bwd_weights_ = dnnl::convolution_backward_weights(bwd_weights_pd_);
        scratch_.reserve(bwd_weights_pd_);
        bwd_weights_args_ = {{DNNL_ARG_SRC, x_w_.prim()},
                             {DNNL_ARG_DIFF_DST, dy_w_.prim()},
                             {DNNL_ARG_DIFF_WEIGHTS, dw_mem_}};
        if (has_bias_) {
          const auto b_plain = plain_desc({w_shape_[0]});
          bwd_weights_args_[DNNL_ARG_DIFF_BIAS] =
              need_db ? dnnl::memory(b_plain, eng_, b.input_grads[2].data)
                      : dnnl::memory(b_plain, eng_);
        }
      }
      scratch_.allocate(eng_);
      for (auto* args : {&fwd_args_, &bwd_data_args_, &bwd_weights_args_, &pool_fwd_args_,
                         &pool_bwd_args_, &relu_bwd_args_})
        (*args)[DNNL_ARG_SCRATCHPAD] = scratch_.memory();
    } catch (const dnnl::error& e) {
      return make_error(ErrorCode::kInternal, "Conv bind failed: ", e.what());
    }
    return Status::Ok();
  }

  void forward(bool /*training*/) override {
    x_.sync(stream_);
    if (!constant_w_) w_.sync(stream_);  // weights change every optimizer step
    fwd_.execute(stream_, fwd_args_);
    if (tail_.pool) pool_fwd_.execute(stream_, pool_fwd_args_);
    (tail_.relu ? out_ : y_).sync(stream_);
    stream_.wait();
  }

  void backward() override {
    if (!has_dy_) {
      // Nothing downstream needs this output: its gradient is zero.
      for (const View& g : grads_) std::fill(g.data, g.data + g.numel(), 0.0f);
      return;
    }
    if (tail_.relu) {
      dout_.sync(stream_);
      if (tail_.pool) pool_bwd_.execute(stream_, pool_bwd_args_);
      relu_bwd_.execute(stream_, relu_bwd_args_);
    }
    // dy_w_ may share dy_data_'s reordered copy, so that edge goes first.
    if (need_dx_) dy_data_.sync(stream_);
    if (need_dweights_) {
      dy_w_.sync(stream_);
      // Backward-weights may want the source in another layout than forward chose (small
      // channel counts): then it has its own copy, refreshed here.
      x_w_.sync(stream_);
      bwd_weights_.execute(stream_, bwd_weights_args_);
      dw_.sync(stream_);
    }
    if (need_dx_) {
      w_data_.sync(stream_);
      bwd_data_.execute(stream_, bwd_data_args_);
      dx_.sync(stream_);
    }
    stream_.wait();
  }

 private:
  // Primitive descriptors of the fused ReLU backward and pooling, on the conv's output layout.
  void init_tail(const dnnl::primitive_attr& attr) {
    const auto y_md = fwd_pd_.dst_desc();
    if (tail_.pool) {
      const spatial::Window& pw = *tail_.pool;
      const auto strides = spatial::to_dnnl(pw.strides), kernel = spatial::to_dnnl(pw.kernel);
      const auto dil = pw.dnnl_dilations(), pl = spatial::to_dnnl(pw.pad_begin);
      const auto pr = spatial::to_dnnl(pw.dnnl_pad_end);
      const auto out_md = any_desc(to_dims(tail_.out_shape));
      const auto max = dnnl::algorithm::pooling_max;
      using pool_fwd = dnnl::pooling_v2_forward;
      pool_fwd_pd_ =
          pool_fwd::primitive_desc(pool_fwd::desc(dnnl::prop_kind::forward_training, max, y_md,
                                                  out_md, strides, kernel, dil, pl, pr),
                                   attr, eng_);
      using pool_bwd = dnnl::pooling_v2_backward;
      pool_bwd_pd_ = pool_bwd::primitive_desc(
          pool_bwd::desc(max, y_md, pool_fwd_pd_.dst_desc(), strides, kernel, dil, pl, pr), attr,
          eng_, pool_fwd_pd_);
    }
    const auto relu = dnnl::algorithm::eltwise_relu_use_dst_for_bwd;
    const dnnl::eltwise_forward::primitive_desc relu_hint(
        dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_training, relu, y_md, 0.0f, 0.0f),
        attr, eng_);
    relu_bwd_pd_ = dnnl::eltwise_backward::primitive_desc(
        dnnl::eltwise_backward::desc(relu, y_md, y_md, 0.0f, 0.0f), attr, eng_, relu_hint);
  }

  // Forward of a fused node: the conv writes its own-layout buffer, the pooling (if any) reads
  // it, and only the chain's output is reordered to the plan's plain buffer.
  void bind_tail_forward(const Bindings& b) {
    const auto out_plain = plain_desc(tail_.out_shape);
    const auto out_md = tail_.pool ? pool_fwd_pd_.dst_desc() : fwd_pd_.dst_desc();
    out_.init(out_plain, b.outputs[0].data, out_md, Edge::Direction::kOut, eng_);
    if (!tail_.pool) {
      y_.init(out_.prim(), out_.prim().get_desc(), Edge::Direction::kIn, eng_);  // no reorder
      return;
    }
    y_.init(dnnl::memory(fwd_pd_.dst_desc(), eng_), fwd_pd_.dst_desc(), Edge::Direction::kIn, eng_);
    pool_fwd_ = dnnl::pooling_v2_forward(pool_fwd_pd_);
    scratch_.reserve(pool_fwd_pd_);
    pool_ws_ = dnnl::memory(pool_fwd_pd_.workspace_desc(), eng_);
    pool_fwd_args_ = {
        {DNNL_ARG_SRC, y_.prim()}, {DNNL_ARG_DST, out_.prim()}, {DNNL_ARG_WORKSPACE, pool_ws_}};
  }

  // Backward of a fused node's tail; returns the gradient at the convolution's output.
  dnnl::memory bind_tail_backward(const Bindings& b) {
    const auto out_plain = plain_desc(tail_.out_shape);
    const auto y_md = fwd_pd_.dst_desc();
    dout_.init(out_plain, b.output_grads[0].data, tail_.pool ? pool_bwd_pd_.diff_dst_desc() : y_md,
               Edge::Direction::kIn, eng_);
    dnnl::memory dy(y_md, eng_);
    if (tail_.pool) {
      pool_bwd_ = dnnl::pooling_v2_backward(pool_bwd_pd_);
      scratch_.reserve(pool_bwd_pd_);
      pool_bwd_args_ = {{DNNL_ARG_DIFF_DST, dout_.prim()},
                        {DNNL_ARG_DIFF_SRC, dy},
                        {DNNL_ARG_WORKSPACE, pool_ws_}};
    }
    relu_bwd_ = dnnl::eltwise_backward(relu_bwd_pd_);
    scratch_.reserve(relu_bwd_pd_);
    // After pooling the ReLU backward runs in place on the pooled-back gradient.
    relu_bwd_args_ = {{DNNL_ARG_DST, y_.prim()},
                      {DNNL_ARG_DIFF_DST, tail_.pool ? dy : dout_.prim()},
                      {DNNL_ARG_DIFF_SRC, dy}};
    return dy;
  }

  dnnl::engine& eng_;
  dnnl::stream& stream_;
  Shape x_shape_, w_shape_, y_shape_;
  bool has_bias_;
  int64_t group_;
  spatial::Window win_;
  Tail tail_;
  const bool constant_w_;  // weights of a constant-weights plan

  dnnl::convolution_forward::primitive_desc fwd_pd_;
  dnnl::convolution_backward_data::primitive_desc bwd_data_pd_;
  dnnl::convolution_backward_weights::primitive_desc bwd_weights_pd_;
  dnnl::convolution_forward fwd_;
  dnnl::convolution_backward_data bwd_data_;
  dnnl::convolution_backward_weights bwd_weights_;
  std::unordered_map<int, dnnl::memory> fwd_args_, bwd_data_args_, bwd_weights_args_;
  spatial::Scratchpad scratch_;

  Edge x_, w_, y_;              // forward
  Edge dy_data_, w_data_, dx_;  // backward data
  Edge dy_w_, x_w_, dw_;        // backward weights
  dnnl::memory dw_mem_;
  // Fused tail (empty unless tail_.relu).
  dnnl::pooling_v2_forward::primitive_desc pool_fwd_pd_;
  dnnl::pooling_v2_backward::primitive_desc pool_bwd_pd_;
  dnnl::eltwise_backward::primitive_desc relu_bwd_pd_;
  dnnl::pooling_v2_forward pool_fwd_;
  dnnl::pooling_v2_backward pool_bwd_;
  dnnl::eltwise_backward relu_bwd_;
  std::unordered_map<int, dnnl::memory> pool_fwd_args_, pool_bwd_args_, relu_bwd_args_;
  dnnl::memory pool_ws_;
  Edge out_, dout_;  // the chain's output and its gradient, plain <-> primitive layout
  std::vector<View> grads_;
  bool has_dy_ = false, need_dx_ = false, need_dweights_ = false;
};

}  // namespace

Expected<std::unique_ptr<Kernel>> create_conv_kernel(const KernelContext& ctx) {
  const Node& node = ctx.node;
  auto fail = [&](auto&&... parts) -> Status {
    return make_error(ErrorCode::kInvalidArgument, node.describe(), ": ", parts...);
  };
  if (!node.has_input(0) || !node.has_input(1))
    return fail("Conv needs inputs X and W (got ", node.input_count(), ")");
  if (node.outputs.size() != 1) return fail("Conv has exactly one output");
  const Shape& x = ctx.input_shapes[0];
  const Shape& w = ctx.input_shapes[1];
  if (x.size() < 3 || x.size() > 5)
    return fail("input X ", shape_to_string(x),
                " must be N x C x D1 [x D2 [x D3]] (1-D, 2-D or 3-D convolution)");
  if (w.size() != x.size())
    return fail("weights W ", shape_to_string(w), " must have the rank of X ", shape_to_string(x),
                " (M x C/group x k...)");
  const int64_t group = node.attr_int("group", 1);
  const int64_t channels = x[1], maps = w[0];
  if (group < 1 || channels % group != 0 || maps % group != 0)
    return fail("group ", group, " must divide the input channels (", channels,
                ") and the output channels (", maps, ")");
  if (w[1] != channels / group)
    return fail("weights W ", shape_to_string(w), " have ", w[1],
                " input channels per group but X ", shape_to_string(x), " with group ", group,
                " needs ", channels / group);
  std::vector<int64_t> kernel(w.begin() + 2, w.end());
  if (node.has_attr("kernel_shape") && node.attr_ints("kernel_shape") != kernel)
    return fail("kernel_shape ", shape_to_string(node.attr_ints("kernel_shape")),
                " does not match the weights W ", shape_to_string(w));
  const bool has_bias = node.has_input(2);
  if (has_bias && ctx.input_shapes[2] != Shape{maps})
    return fail("bias B ", shape_to_string(ctx.input_shapes[2]), " must be [", maps, "]");

  std::vector<int64_t> in(x.begin() + 2, x.end());
  RETORT_ASSIGN_OR_RETURN(spatial::Window win, spatial::resolve_window(node, in, kernel, false));
  Shape y{x[0], maps};
  y.insert(y.end(), win.out.begin(), win.out.end());

  Tail tail;
  if (fusion::is_fused_conv(node)) {
    tail.relu = true;
    tail.out_shape = y;
    if (fusion::has_fused_pool(node)) {
      const Node pool = fusion::fused_pool_node(node);
      const std::vector<int64_t> pool_kernel = pool.attr_ints("kernel_shape");
      std::vector<int64_t> pool_in(y.begin() + 2, y.end());
      if (pool_kernel.size() != pool_in.size())
        return make_error(ErrorCode::kInvalidArgument, pool.describe(), ": kernel_shape ",
                          shape_to_string(pool_kernel), " must have ", pool_in.size(),
                          " values (one per spatial dim of its input ", shape_to_string(y), ")");
      RETORT_ASSIGN_OR_RETURN(
          spatial::Window pool_win,
          spatial::resolve_window(pool, pool_in, pool_kernel, pool.attr_int("ceil_mode", 0) != 0));
      tail.out_shape = {y[0], y[1]};
      tail.out_shape.insert(tail.out_shape.end(), pool_win.out.begin(), pool_win.out.end());
      tail.pool = std::move(pool_win);
    }
  }
  auto k =
      std::make_unique<ConvKernel>(ctx, x, w, has_bias, group, std::move(win), y, std::move(tail));
  RETORT_RETURN_IF_ERROR(k->init(node.describe()));
  return std::unique_ptr<Kernel>(std::move(k));
}

}  // namespace retort::engine
