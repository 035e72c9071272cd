// Helpers shared by the spatial kernels (Conv, pooling, BatchNormalization): ONNX window
// attributes resolved to concrete sizes, plain-buffer <-> primitive-layout edges, and one user
// scratchpad per kernel.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "retort/engine/dnnl_util.h"
#include "retort/engine/kernel.h"

namespace retort::engine::spatial {

inline std::string ints_to_string(const std::vector<int64_t>& v) {
  return shape_to_string(v);
}

// The sliding window of a Conv or pooling node over concrete spatial sizes.
struct Window {
  std::vector<int64_t> kernel, strides, dilations, pad_begin, pad_end, out;
  // Right padding handed to oneDNN: oneDNN floors (in + pads - extent) / stride, so ceil_mode is
  // expressed as extra right padding. Never less than pad_end.
  std::vector<int64_t> dnnl_pad_end;

  dnnl::memory::dims dnnl_dilations() const {
    dnnl::memory::dims d;
    for (int64_t v : dilations) d.push_back(v - 1);  // oneDNN counts the gaps
    return d;
  }
  // True when ceil_mode made a window reach past the declared right padding.
  bool extended() const {
    for (size_t i = 0; i < pad_end.size(); ++i)
      if (dnnl_pad_end[i] > pad_end[i]) return true;
    return false;
  }
};

// Reads strides, dilations, pads and auto_pad of `node` (ONNX Conv/pooling semantics) and
// computes output sizes. `ceil_mode` follows ONNX/PyTorch: windows that would start in the
// right padding are dropped.
inline Expected<Window> resolve_window(const Node& node, const std::vector<int64_t>& in,
                                       const std::vector<int64_t>& kernel, bool ceil_mode) {
  const size_t n = in.size();
  Window w;
  w.kernel = kernel;
  w.strides = node.attr_ints("strides", std::vector<int64_t>(n, 1));
  w.dilations = node.attr_ints("dilations", std::vector<int64_t>(n, 1));
  auto fail = [&](auto&&... parts) -> Status {
    return make_error(ErrorCode::kInvalidArgument, node.describe(), ": ", parts...);
  };
  if (w.strides.size() != n ||
      std::any_of(w.strides.begin(), w.strides.end(), [](int64_t v) { return v < 1; }))
    return fail("strides ", ints_to_string(w.strides), " must be ", n,
                " positive values (one per spatial dim)");
  if (w.dilations.size() != n ||
      std::any_of(w.dilations.begin(), w.dilations.end(), [](int64_t v) { return v < 1; }))
    return fail("dilations ", ints_to_string(w.dilations), " must be ", n, " positive values");
  if (std::any_of(kernel.begin(), kernel.end(), [](int64_t v) { return v < 1; }))
    return fail("kernel_shape ", ints_to_string(kernel), " must be positive");

  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  w.pad_begin.assign(n, 0);
  w.pad_end.assign(n, 0);
  w.out.assign(n, 0);
  w.dnnl_pad_end.assign(n, 0);
  if (auto_pad == "NOTSET") {
    std::vector<int64_t> pads = node.attr_ints("pads", std::vector<int64_t>(2 * n, 0));
    if (pads.size() != 2 * n ||
        std::any_of(pads.begin(), pads.end(), [](int64_t v) { return v < 0; }))
      return fail("pads ", ints_to_string(pads), " must be ", 2 * n,
                  " non-negative values (all begins, then all ends)");
    for (size_t i = 0; i < n; ++i) {
      w.pad_begin[i] = pads[i];
      w.pad_end[i] = pads[n + i];
    }
  } else if (auto_pad != "VALID" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER") {
    return fail("auto_pad '", auto_pad,
                "' is not supported (supported: NOTSET, VALID, SAME_UPPER, SAME_LOWER)");
  }

  for (size_t i = 0; i < n; ++i) {
    const int64_t extent = (kernel[i] - 1) * w.dilations[i] + 1;
    const int64_t s = w.strides[i];
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      w.out[i] = (in[i] + s - 1) / s;
      const int64_t total = std::max<int64_t>(0, (w.out[i] - 1) * s + extent - in[i]);
      const int64_t small = total / 2;
      w.pad_begin[i] = auto_pad == "SAME_UPPER" ? small : total - small;
      w.pad_end[i] = total - w.pad_begin[i];
    } else {
      const int64_t span = in[i] + w.pad_begin[i] + w.pad_end[i] - extent;
      if (span < 0)
        return fail("the window (kernel ", ints_to_string(kernel), ", dilations ",
                    ints_to_string(w.dilations), ") is larger than the padded input ",
                    ints_to_string(in));
      // VALID ignores ceil_mode (ONNX computes its size from the unpadded input).
      if (ceil_mode && auto_pad == "NOTSET") {
        w.out[i] = (span + s - 1) / s + 1;
        if ((w.out[i] - 1) * s >= in[i] + w.pad_begin[i]) --w.out[i];
      } else {
        w.out[i] = span / s + 1;
      }
    }
    w.dnnl_pad_end[i] =
        std::max(w.pad_end[i], (w.out[i] - 1) * s + extent - in[i] - w.pad_begin[i]);
  }
  return w;
}

inline dnnl::memory::dims to_dnnl(const std::vector<int64_t>& v) {
  return dnnl::memory::dims(v.begin(), v.end());
}

// A plain buffer of the plan seen through the layout a primitive chose. When the layouts
// differ the primitive works on its own copy (allocated once here) and a reorder, created once,
// runs at the edge.
class Edge {
 public:
  enum class Direction { kIn, kOut };  // kIn: plain -> primitive; kOut: primitive -> plain

  void init(const dnnl::memory::desc& plain, float* data, const dnnl::memory::desc& chosen,
            Direction dir, const dnnl::engine& eng) {
    init(dnnl::memory(plain, eng, data), chosen, dir, eng);
  }
  // The same from a memory of any layout (a fused kernel's internal buffer).
  void init(const dnnl::memory& user, const dnnl::memory::desc& chosen, Direction dir,
            const dnnl::engine& eng) {
    user_ = user;
    if (chosen == user.get_desc()) {
      prim_ = user_;
      return;
    }
    prim_ = dnnl::memory(chosen, eng);
    dir_ = dir;
    reorder_ = dir == Direction::kIn ? dnnl::reorder(user_, prim_) : dnnl::reorder(prim_, user_);
    reordered_ = true;
  }
  // Reads an input that is already in the primitive's layout in `shared` when the descs match
  // (e.g. backward weights reusing the source forward reordered), else behaves like init().
  void init_shared(const dnnl::memory::desc& plain, float* data, const dnnl::memory::desc& chosen,
                   const Edge& shared, const dnnl::engine& eng) {
    init_shared(dnnl::memory(plain, eng, data), chosen, shared, eng);
  }
  void init_shared(const dnnl::memory& user, const dnnl::memory::desc& chosen, const Edge& shared,
                   const dnnl::engine& eng) {
    if (shared.prim_ && shared.prim_.get_desc() == chosen) {
      user_ = shared.user_;
      prim_ = shared.prim_;
      return;  // already filled by `shared`'s reorder
    }
    init(user, chosen, Direction::kIn, eng);
  }
  // Runs the edge reorder, if any, in this edge's direction.
  void sync(dnnl::stream& s) {
    if (!reordered_) return;
    if (dir_ == Direction::kIn) {
      reorder_.execute(s, user_, prim_);
    } else {
      reorder_.execute(s, prim_, user_);
    }
  }
  const dnnl::memory& prim() const { return prim_; }
  bool reordered() const { return reordered_; }

 private:
  dnnl::memory user_, prim_;
  dnnl::reorder reorder_;
  Direction dir_ = Direction::kIn;
  bool reordered_ = false;
};

// Owns one user-mode scratchpad big enough for every primitive of a kernel (they run one after
// another), so primitives never touch oneDNN's per-thread global scratchpad.
class Scratchpad {
 public:
  static dnnl::primitive_attr attr() {
    dnnl::primitive_attr a;
    a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return a;
  }
  void reserve(const dnnl::primitive_desc_base& pd) {
    bytes_ = std::max(bytes_, pd.scratchpad_desc().get_size());
  }
  void allocate(const dnnl::engine& eng) {
    const auto n = static_cast<dnnl::memory::dim>(std::max<size_t>(bytes_, 1));
    mem_ = dnnl::memory({{n}, dnnl::memory::data_type::u8, dnnl::memory::format_tag::a}, eng);
  }
  const dnnl::memory& memory() const { return mem_; }

 private:
  size_t bytes_ = 0;
  dnnl::memory mem_;
};

}  // namespace retort::engine::spatial
