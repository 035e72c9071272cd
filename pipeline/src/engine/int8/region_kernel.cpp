// Runs one int8 region: its float input is quantized once, then every Conv/Gemm/MatMul runs as
// a u8/s8 x s8 oneDNN primitive (VNNI), each quantized tensor lives in the layout its producer
// chose (format_tag::any), and reorders are created only where a consumer wants another one.
//
// Numerics (oneDNN 2.x int8: dst = oscale * (acc + bias), then post-ops, then saturation):
//   oscale[c] = s_x * s_w[c] / s_y (quantized dst) or s_x * s_w[c] (float dst),
//   bias'[c]  = b[c] / (s_x * s_w[c]) + zp_y / oscale[c]  (zp_y: see below).
// The destination zero point is folded into the bias and Relu becomes a clip at zp_y, because
// max(v, 0) + zp = max(v + zp, zp) and rounding commutes with adding an integer; the clip also
// applies a narrowed code range. The source zero point of a convolution goes to oneDNN's
// zero-point attribute, which pads with the zero point (a real 0, as ONNX pads); inner products
// have no padding, so theirs is folded into the bias as -zp_x * sum_k w[c, k].
// All scales are fixed when the primitive is created (runtime scales leave the fast kernel).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include "engine/int8/region.h"
#include "engine/ops/spatial_util.h"
#include "retort/engine/dnnl_util.h"

namespace retort::engine::int8 {
namespace {

using dnnl::memory;
using dt = memory::data_type;

memory::desc plain_md(const Shape& shape, dt type) {
  const Shape s = shape.empty() ? Shape{1} : shape;
  memory::dims strides(s.size(), 1);
  for (size_t i = s.size() - 1; i > 0; --i)
    strides[i - 1] = strides[i] * std::max<int64_t>(1, s[i]);
  return memory::desc(to_dims(s), type, strides);
}

dt code_type(const QuantParams& q) {
  return q.is_signed ? dt::s8 : dt::u8;
}

// One thing forward() does, in order.
struct Op {
  enum class Kind { kPrimitive, kQuantize, kDequantize };
  Kind kind = Kind::kPrimitive;
  dnnl::primitive prim;
  std::unordered_map<int, memory> args;
  const float* fsrc = nullptr;  // kQuantize
  void* codes = nullptr;        // kQuantize dst, kDequantize src (plain layout)
  float* fdst = nullptr;        // kDequantize
  int64_t n = 0;
  QuantParams q;
};

template <typename T>
void quantize(const float* __restrict x, T* __restrict q, int64_t n, const QuantParams& p) {
  // clamp(round(x / s) + zp, qmin, qmax) = round(clamp(x / s, qmin - zp, qmax - zp)) + zp, as
  // the bounds are integers. Adding and subtracting 1.5 * 2^23 rounds half to even in the
  // default rounding mode (|v| <= 255 here) and, unlike nearbyint, vectorises everywhere.
  const float s = p.scale, lo = static_cast<float>(p.qmin - p.zero_point);
  const float hi = static_cast<float>(p.qmax - p.zero_point);
  const int32_t zp = p.zero_point;
  [[maybe_unused]] constexpr float kMagic = 12582912.0f;
#pragma omp parallel for simd if (n > (1 << 15))
  for (int64_t i = 0; i < n; ++i) {
    const float v = std::fmin(std::fmax(x[i] / s, lo), hi);  // NaN -> lo
#ifdef __FAST_MATH__
    const float r = std::nearbyint(v);  // the magic constant needs IEEE addition
#else
    const float r = (v + kMagic) - kMagic;
#endif
    q[i] = static_cast<T>(static_cast<int32_t>(r) + zp);
  }
}

template <typename T>
void dequantize(const T* __restrict q, float* __restrict y, int64_t n, const QuantParams& p) {
  const float s = p.scale, zp = static_cast<float>(p.zero_point);
#pragma omp parallel for simd if (n > (1 << 15))
  for (int64_t i = 0; i < n; ++i) y[i] = (static_cast<float>(q[i]) - zp) * s;
}

class RegionKernel final : public Kernel {
 public:
  RegionKernel(const KernelContext& ctx, const Region& region)
      : eng_(ctx.engine), stream_(ctx.stream), r_(region) {}

  Status init(const std::vector<Shape>& input_shapes);
  std::vector<Shape> output_shapes() const override { return out_shapes_; }
  bool differentiable_input(size_t) const override { return false; }
  Status bind(const Bindings& b) override;
  void forward(bool) override {
    for (Op& op : ops_) {
      switch (op.kind) {
        case Op::Kind::kPrimitive:
          op.prim.execute(stream_, op.args);
          break;
        case Op::Kind::kQuantize:
          stream_.wait();
          if (op.q.is_signed)
            quantize(op.fsrc, static_cast<int8_t*>(op.codes), op.n, op.q);
          else
            quantize(op.fsrc, static_cast<uint8_t*>(op.codes), op.n, op.q);
          break;
        case Op::Kind::kDequantize:
          stream_.wait();
          if (op.q.is_signed)
            dequantize(static_cast<const int8_t*>(op.codes), op.fdst, op.n, op.q);
          else
            dequantize(static_cast<const uint8_t*>(op.codes), op.fdst, op.n, op.q);
          break;
      }
    }
    stream_.wait();
  }
  void backward() override {}  // inference only: Plan::compile refuses lower_int8 + backward

 private:
  struct StepState {
    dnnl::primitive_desc pd;  // kConv, kInnerProduct, kMaxPool
    std::vector<float> bias;  // folded bias of kConv / kInnerProduct
    Shape weights_dims;       // oneDNN weight dims (grouped for grouped convolutions)
  };
  Status init_step(size_t k);
  // The tensor's memory in `desc`: itself, or a copy that a reorder op (appended now) fills.
  memory in_desc(int tensor, const memory::desc& desc);

  dnnl::engine& eng_;
  dnnl::stream& stream_;
  const Region& r_;
  std::vector<Shape> in_shapes_, out_shapes_;
  std::vector<Shape> dims_;          // per quantized tensor
  std::vector<memory::desc> descs_;  // per quantized tensor: the layout its producer writes
  std::vector<memory> mems_;
  std::vector<std::vector<memory>> copies_;  // per tensor: reordered copies already made
  std::vector<StepState> states_;
  spatial::Scratchpad scratch_;
  std::vector<Op> ops_;
};

Expected<Shape> reshaped(const Step& s, const Shape& in) {
  const int64_t total = shape_numel(in);
  if (s.flatten) {
    int64_t axis = s.op.attr_int("axis", 1);
    if (axis < 0) axis += static_cast<int64_t>(in.size());
    if (axis < 0 || axis > static_cast<int64_t>(in.size()))
      return make_error(ErrorCode::kInvalidArgument, s.op.describe(), ": axis out of range");
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= in[d];
    return Shape{outer, outer == 0 ? 0 : total / outer};
  }
  Shape out = s.reshape_to;
  int64_t known = 1, infer = -1;
  for (size_t d = 0; d < out.size(); ++d) {
    if (out[d] == 0 && s.op.attr_int("allowzero", 0) == 0) {
      if (d >= in.size())
        return make_error(ErrorCode::kInvalidArgument, s.op.describe(), ": shape ",
                          shape_to_string(s.reshape_to), " copies a missing dim");
      out[d] = in[d];
    }
    if (out[d] == -1) {
      infer = static_cast<int64_t>(d);
    } else {
      known *= out[d];
    }
  }
  if (infer >= 0 && known > 0) out[infer] = total / known;
  if (shape_numel(out) != total)
    return make_error(ErrorCode::kInvalidArgument, s.op.describe(), ": cannot reshape ",
                      shape_to_string(in), " to ", shape_to_string(s.reshape_to));
  return out;
}

Status RegionKernel::init(const std::vector<Shape>& input_shapes) {
  in_shapes_ = input_shapes;
  out_shapes_.assign(r_.outputs.size(), {});
  dims_.assign(r_.tensors.size(), {});
  descs_.assign(r_.tensors.size(), {});
  states_.resize(r_.steps.size());
  for (size_t k = 0; k < r_.steps.size(); ++k) {
    const Step& s = r_.steps[k];
    try {
      RETORT_RETURN_IF_ERROR(init_step(k));
    } catch (const dnnl::error& e) {
      return make_error(ErrorCode::kUnsupported, "node '", s.node,
                        "': oneDNN has no int8 primitive for this configuration: ", e.what());
    }
  }
  return Status::Ok();
}

Status RegionKernel::init_step(size_t k) {
  const Step& s = r_.steps[k];
  StepState& st = states_[k];
  const auto attr_base = spatial::Scratchpad::attr;
  auto fail = [&](auto&&... parts) -> Status {
    return make_error(ErrorCode::kInvalidArgument, "node '", s.node, "': ", parts...);
  };
  switch (s.kind) {
    case Step::Kind::kQuantize:
      dims_[s.dst] = in_shapes_[s.src];
      descs_[s.dst] = plain_md(dims_[s.dst], code_type(r_.tensors[s.dst]));
      return Status::Ok();
    case Step::Kind::kDequantize:
      out_shapes_[s.dst] = dims_[s.src];
      return Status::Ok();
    case Step::Kind::kReshape: {
      RETORT_ASSIGN_OR_RETURN(dims_[s.dst], reshaped(s, dims_[s.src]));
      descs_[s.dst] = plain_md(dims_[s.dst], code_type(r_.tensors[s.dst]));
      return Status::Ok();
    }
    case Step::Kind::kMaxPool: {
      const Shape& x = dims_[s.src];
      if (x.size() < 3) return fail("MaxPool input ", shape_to_string(x), " is not N x C x D...");
      const std::vector<int64_t> in(x.begin() + 2, x.end());
      const std::vector<int64_t> kernel = s.op.attr_ints("kernel_shape");
      if (kernel.size() != in.size()) return fail("kernel_shape does not match the input rank");
      RETORT_ASSIGN_OR_RETURN(
          spatial::Window win,
          spatial::resolve_window(s.op, in, kernel, s.op.attr_int("ceil_mode", 0) != 0));
      Shape y{x[0], x[1]};
      y.insert(y.end(), win.out.begin(), win.out.end());
      dims_[s.dst] = y;
      using fwd = dnnl::pooling_v2_forward;
      fwd::primitive_desc pd(
          fwd::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_max, descs_[s.src],
                    memory::desc(to_dims(y), code_type(r_.tensors[s.dst]), memory::format_tag::any),
                    spatial::to_dnnl(win.strides), spatial::to_dnnl(win.kernel),
                    win.dnnl_dilations(), spatial::to_dnnl(win.pad_begin),
                    spatial::to_dnnl(win.dnnl_pad_end)),
          attr_base(), eng_);
      descs_[s.dst] = pd.dst_desc();
      st.pd = pd;
      return Status::Ok();
    }
    case Step::Kind::kConv:
    case Step::Kind::kInnerProduct:
      break;
  }

  // Conv / inner product.
  const QuantParams& qx = r_.tensors[s.src];
  const Shape& x = dims_[s.src];
  const Shape& w = s.weights.shape();
  const int64_t channels = w[0];
  const bool conv = s.kind == Step::Kind::kConv;
  Shape y;
  Shape x_dims = x;  // inner product: [M, K]
  spatial::Window win;
  int64_t group = 1;
  if (conv) {
    group = s.op.attr_int("group", 1);
    if (x.size() != w.size() || group < 1 || x[1] != w[1] * group || channels % group != 0)
      return fail("input ", shape_to_string(x), " does not match weights ", shape_to_string(w),
                  " with group ", group);
    const std::vector<int64_t> in(x.begin() + 2, x.end()), kernel(w.begin() + 2, w.end());
    RETORT_ASSIGN_OR_RETURN(win, spatial::resolve_window(s.op, in, kernel, false));
    y = {x[0], channels};
    y.insert(y.end(), win.out.begin(), win.out.end());
    st.weights_dims = w;
    if (group > 1) {
      st.weights_dims = {group, channels / group};
      st.weights_dims.insert(st.weights_dims.end(), w.begin() + 1, w.end());
    }
  } else {
    if (x.empty() || x.back() != w[1])
      return fail("input ", shape_to_string(x), " does not match weights [", w[0], ", ", w[1],
                  "] (output channels first)");
    if (s.op.op_type == "Gemm" && x.size() != 2)
      return fail("Gemm input ", shape_to_string(x), " is not 2-D");
    y = x;
    y.back() = channels;
    x_dims = {shape_numel(x) / x.back(), x.back()};
    st.weights_dims = w;
  }

  const bool to_float = s.dst_float;
  const QuantParams qy = to_float ? QuantParams{} : r_.tensors[s.dst];
  std::vector<float> oscale(channels);
  st.bias.assign(channels, 0.0f);
  const int64_t per_channel = s.weights.numel() / channels;
  for (int64_t c = 0; c < channels; ++c) {
    const float sxw = qx.scale * s.weight_scales[c];
    oscale[c] = to_float ? sxw : sxw / qy.scale;
    float b = s.bias.empty() ? 0.0f : s.bias[c] / sxw;
    if (!conv && qx.zero_point != 0) {
      int64_t sum = 0;
      for (int64_t i = 0; i < per_channel; ++i)
        sum += s.weights.data<int8_t>()[c * per_channel + i];
      b -= static_cast<float>(qx.zero_point) * static_cast<float>(sum);
    }
    if (!to_float) b += static_cast<float>(qy.zero_point) / oscale[c];
    st.bias[c] = b;
  }
  dnnl::primitive_attr attr = attr_base();
  const bool uniform =
      std::all_of(oscale.begin(), oscale.end(), [&](float v) { return v == oscale[0]; });
  if (uniform)
    attr.set_output_scales(0, {oscale[0]});
  else
    attr.set_output_scales(1 << 1, oscale);
  if (conv && qx.zero_point != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {qx.zero_point});
  dnnl::post_ops po;
  if (to_float) {
    if (s.relu) po.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  } else {
    const int32_t type_lo = qy.is_signed ? -128 : 0, type_hi = qy.is_signed ? 127 : 255;
    const int32_t lo = s.relu ? std::max(qy.qmin, qy.zero_point) : qy.qmin;
    if (lo > type_lo || qy.qmax < type_hi)
      po.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, static_cast<float>(lo),
                        static_cast<float>(qy.qmax));
  }
  attr.set_post_ops(po);

  const dt dst_type = to_float ? dt::f32 : code_type(qy);
  const auto any = memory::format_tag::any;
  const memory::desc w_md(to_dims(st.weights_dims), dt::s8, any);
  const memory::desc b_md({channels}, dt::f32, memory::format_tag::x);
  if (conv) {
    dnnl::convolution_forward::desc d(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
        memory::desc(to_dims(x), code_type(qx), any), w_md, b_md,
        memory::desc(to_dims(y), dst_type, any), spatial::to_dnnl(win.strides),
        win.dnnl_dilations(), spatial::to_dnnl(win.pad_begin), spatial::to_dnnl(win.dnnl_pad_end));
    st.pd = dnnl::convolution_forward::primitive_desc(d, attr, eng_);
  } else {
    // Plain [M, K] source: a reshape of whatever rank the MatMul input has.
    dnnl::inner_product_forward::desc d(dnnl::prop_kind::forward_inference,
                                        plain_md(x_dims, code_type(qx)), w_md, b_md,
                                        plain_md({x_dims[0], channels}, dst_type));
    st.pd = dnnl::inner_product_forward::primitive_desc(d, attr, eng_);
  }
  if (to_float) {
    out_shapes_[s.dst] = y;
  } else {
    dims_[s.dst] = y;
    descs_[s.dst] = conv ? st.pd.dst_desc() : plain_md(y, dst_type);
  }
  return Status::Ok();
}

memory RegionKernel::in_desc(int tensor, const memory::desc& desc) {
  if (mems_[tensor].get_desc() == desc) return mems_[tensor];
  for (const memory& m : copies_[tensor])
    if (m.get_desc() == desc) return m;
  memory copy(desc, eng_);
  Op op;
  op.prim = dnnl::reorder(mems_[tensor], copy);
  op.args = {{DNNL_ARG_FROM, mems_[tensor]}, {DNNL_ARG_TO, copy}};
  ops_.push_back(std::move(op));
  copies_[tensor].push_back(copy);
  return copy;
}

Status RegionKernel::bind(const Bindings& b) {
  try {
    mems_.assign(r_.tensors.size(), memory());
    copies_.assign(r_.tensors.size(), {});
    for (const StepState& st : states_)
      if (st.pd) scratch_.reserve(st.pd);
    scratch_.allocate(eng_);
    for (size_t k = 0; k < r_.steps.size(); ++k) {
      const Step& s = r_.steps[k];
      StepState& st = states_[k];
      // Touch new buffers now: first-touch page faults are expensive and belong to compile().
      auto fresh = [&](const memory::desc& d) {
        memory m(d, eng_);
        std::memset(m.get_data_handle(), 0, d.get_size());
        return m;
      };
      switch (s.kind) {
        case Step::Kind::kQuantize: {
          mems_[s.dst] = fresh(descs_[s.dst]);
          Op op;
          op.kind = Op::Kind::kQuantize;
          op.fsrc = b.inputs[s.src].data;
          op.codes = mems_[s.dst].get_data_handle();
          op.n = shape_numel(dims_[s.dst]);
          op.q = r_.tensors[s.dst];
          ops_.push_back(std::move(op));
          break;
        }
        case Step::Kind::kDequantize: {
          memory src = in_desc(s.src, plain_md(dims_[s.src], code_type(r_.tensors[s.src])));
          Op op;
          op.kind = Op::Kind::kDequantize;
          op.codes = src.get_data_handle();
          op.fdst = b.outputs[s.dst].data;
          op.n = shape_numel(dims_[s.src]);
          op.q = r_.tensors[s.src];
          ops_.push_back(std::move(op));
          break;
        }
        case Step::Kind::kReshape: {
          memory src = in_desc(s.src, plain_md(dims_[s.src], code_type(r_.tensors[s.src])));
          mems_[s.dst] = memory(descs_[s.dst], eng_, src.get_data_handle());  // same bytes
          break;
        }
        case Step::Kind::kMaxPool: {
          mems_[s.dst] = fresh(descs_[s.dst]);
          Op op;
          op.prim = dnnl::primitive(st.pd);
          op.args = {{DNNL_ARG_SRC, mems_[s.src]},
                     {DNNL_ARG_DST, mems_[s.dst]},
                     {DNNL_ARG_SCRATCHPAD, scratch_.memory()}};
          ops_.push_back(std::move(op));
          break;
        }
        case Step::Kind::kConv:
        case Step::Kind::kInnerProduct: {
          const bool conv = s.kind == Step::Kind::kConv;
          const memory::desc src_md = st.pd.query_md(dnnl::query::src_md);
          const memory::desc w_md = st.pd.query_md(dnnl::query::weights_md);
          const memory::desc dst_md = st.pd.query_md(dnnl::query::dst_md);
          memory src;
          if (conv) {
            src = in_desc(s.src, src_md);
          } else {  // the plain tensor seen as [M, K]
            memory plain = in_desc(s.src, plain_md(dims_[s.src], code_type(r_.tensors[s.src])));
            src = memory(src_md, eng_, plain.get_data_handle());
          }
          // Weights are constants: reorder them into the primitive's layout once, here.
          memory w_user(plain_md(st.weights_dims, dt::s8), eng_,
                        const_cast<void*>(s.weights.raw()));
          memory w(w_md, eng_);
          dnnl::reorder(w_user, w).execute(stream_, w_user, w);
          stream_.wait();
          memory bias(memory::desc({static_cast<memory::dim>(st.bias.size())}, dt::f32,
                                   memory::format_tag::x),
                      eng_, st.bias.data());
          memory dst;
          memory user_out;  // float output of the plan, when the primitive's layout differs
          if (s.dst_float) {
            const memory::desc plain = plain_md(out_shapes_[s.dst], dt::f32);
            user_out = memory(plain, eng_, b.outputs[s.dst].data);
            dst = dst_md == plain || !conv ? memory(dst_md, eng_, b.outputs[s.dst].data)
                                           : fresh(dst_md);
          } else {
            mems_[s.dst] = conv ? fresh(dst_md) : fresh(descs_[s.dst]);
            dst = conv ? mems_[s.dst] : memory(dst_md, eng_, mems_[s.dst].get_data_handle());
          }
          Op op;
          op.prim = dnnl::primitive(st.pd);
          op.args = {{DNNL_ARG_SRC, src},
                     {DNNL_ARG_WEIGHTS, w},
                     {DNNL_ARG_BIAS, bias},
                     {DNNL_ARG_DST, dst},
                     {DNNL_ARG_SCRATCHPAD, scratch_.memory()}};
          ops_.push_back(std::move(op));
          if (s.dst_float && dst.get_data_handle() != user_out.get_data_handle()) {
            Op out;
            out.prim = dnnl::reorder(dst, user_out);
            out.args = {{DNNL_ARG_FROM, dst}, {DNNL_ARG_TO, user_out}};
            ops_.push_back(std::move(out));
          }
          break;
        }
      }
    }
  } catch (const dnnl::error& e) {
    return make_error(ErrorCode::kInternal, "int8 region bind failed: ", e.what());
  }
  return Status::Ok();
}

}  // namespace

Expected<std::unique_ptr<Kernel>> create_region_kernel(const KernelContext& ctx,
                                                       const Region& region) {
  auto k = std::make_unique<RegionKernel>(ctx, region);
  RETORT_RETURN_IF_ERROR(k->init(ctx.input_shapes));
  return std::unique_ptr<Kernel>(std::move(k));
}

}  // namespace retort::engine::int8
