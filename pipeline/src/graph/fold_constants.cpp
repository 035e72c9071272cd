#include "retort/graph/fold_constants.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <unordered_set>
#include <utility>

namespace retort {
namespace {

// ConstantOfShape results larger than this stay nodes (they would bloat the model file).
constexpr int64_t kMaxFoldedElements = int64_t{1} << 20;
// Integer tensors up to this many elements are tracked element by element (shape vectors).
constexpr int64_t kMaxTrackedElements = 64;
// Bounds on one symbolic integer, so that a hostile chain of Mul/Div nodes cannot grow it
// without end: past them it becomes one opaque symbol.
constexpr size_t kMaxTerms = 16;
constexpr size_t kMaxDegree = 8;
constexpr size_t kMaxOpaqueName = 160;

// An integer known up to symbolic dims: a polynomial in named unknowns ("batch"), stored as
// monomial (sorted symbol names) -> coefficient. Fixed when it has no symbolic monomial. What
// is not a polynomial (a division that does not come out even) becomes one opaque symbol
// naming the expression, so that equal expressions still compare equal.
struct SymInt {
  using Monomial = std::vector<std::string>;
  std::map<Monomial, int64_t> terms;  // no zero coefficients; {} is the constant term

  static SymInt fixed(int64_t v) {
    SymInt r;
    if (v != 0) r.terms[{}] = v;
    return r;
  }
  static SymInt symbol(std::string s) {
    SymInt r;
    r.terms[{std::move(s)}] = 1;
    return r;
  }
  bool is_fixed() const {
    return terms.empty() || (terms.size() == 1 && terms.begin()->first.empty());
  }
  int64_t value() const {  // the constant term
    auto it = terms.find({});
    return it == terms.end() ? 0 : it->second;
  }
  bool operator==(const SymInt&) const = default;

  std::string to_string() const {
    if (is_fixed()) return std::to_string(value());
    std::string out;
    for (const auto& [mono, coef] : terms) {
      if (!out.empty()) out += '+';
      std::string term;
      for (const auto& s : mono) {
        if (!term.empty()) term += '*';
        term += s;
      }
      if (mono.empty()) {
        term = std::to_string(coef);
      } else if (coef != 1) {
        term += '*';
        term += std::to_string(coef);
      }
      out += term;
    }
    return out;
  }
};

SymInt opaque(const SymInt& a, const char* op, const SymInt& b);

// The dims are read from a file: arithmetic that overflows int64 (only a corrupt or hostile
// file gets there) gives an opaque symbol, never undefined behaviour.
SymInt sym_add_scaled(const SymInt& a, const SymInt& b, int64_t sign) {
  SymInt r = a;
  for (const auto& [mono, coef] : b.terms) {
    int64_t& c = r.terms[mono];
    int64_t term = 0;
    if (__builtin_mul_overflow(sign, coef, &term) || __builtin_add_overflow(c, term, &c))
      return opaque(a, sign > 0 ? "+" : "-", b);
    if (c == 0) r.terms.erase(mono);
  }
  if (r.terms.size() > kMaxTerms) return opaque(a, sign > 0 ? "+" : "-", b);
  return r;
}

SymInt sym_add(const SymInt& a, const SymInt& b) {
  return sym_add_scaled(a, b, 1);
}
SymInt sym_sub(const SymInt& a, const SymInt& b) {
  return sym_add_scaled(a, b, -1);
}

SymInt sym_mul(const SymInt& a, const SymInt& b) {
  if (a.terms.size() * b.terms.size() > kMaxTerms) return opaque(a, "*", b);
  SymInt r;
  for (const auto& [ma, ca] : a.terms)
    for (const auto& [mb, cb] : b.terms) {
      SymInt::Monomial m = ma;
      m.insert(m.end(), mb.begin(), mb.end());
      if (m.size() > kMaxDegree) return opaque(a, "*", b);
      std::sort(m.begin(), m.end());
      int64_t c = 0;
      if (__builtin_mul_overflow(ca, cb, &c)) return opaque(a, "*", b);
      SymInt term;
      term.terms[m] = c;
      r = sym_add(r, term);
    }
  return r;
}

// One symbol standing for an expression the polynomials do not capture. Its name is the
// expression, so that equal expressions compare equal; a long one is shortened to a hash of
// itself (the operands are bounded by kMaxTerms and kMaxDegree, so the text is too).
SymInt opaque(const SymInt& a, const char* op, const SymInt& b) {
  std::string expr = "(";
  expr += a.to_string();
  expr += op;
  expr += b.to_string();
  expr += ')';
  if (expr.size() > kMaxOpaqueName) expr = "expr#" + std::to_string(std::hash<std::string>{}(expr));
  return SymInt::symbol(std::move(expr));
}

// Integer division truncating toward zero (as ONNX runtimes do for integer Div). Exact when
// the divisor is one monomial that divides every term; opaque otherwise.
std::optional<SymInt> sym_div(const SymInt& a, const SymInt& b) {
  if (b.terms.empty()) return std::nullopt;  // division by zero
  const auto& [mb, cb] = *b.terms.begin();
  // INT64_MIN / -1 overflows (and traps on x86).
  if (cb == -1 && std::any_of(a.terms.begin(), a.terms.end(), [](const auto& term) {
        return term.second == std::numeric_limits<int64_t>::min();
      }))
    return opaque(a, "/", b);
  if (a.is_fixed() && b.is_fixed()) return SymInt::fixed(a.value() / b.value());
  if (b.terms.size() != 1) return opaque(a, "/", b);
  SymInt r;
  for (const auto& [ma, ca] : a.terms) {
    SymInt::Monomial rest = ma;
    for (const auto& s : mb) {
      auto it = std::find(rest.begin(), rest.end(), s);
      if (it == rest.end()) return opaque(a, "/", b);
      rest.erase(it);
    }
    if (ca % cb != 0) return opaque(a, "/", b);
    r.terms[rest] = ca / cb;
  }
  return r;
}

using SymShape = std::vector<SymInt>;

// The symbol a fixed batch becomes (make_batch_symbolic).
constexpr const char* kBatchSymbol = "batch";

bool has_batch(const SymInt& d) {
  for (const auto& [mono, coef] : d.terms)
    if (std::find(mono.begin(), mono.end(), kBatchSymbol) != mono.end()) return true;
  return false;
}

// The value of `d` with the batch symbol set to `batch`; nullopt when `d` has other symbols.
std::optional<int64_t> at_batch(const SymInt& d, int64_t batch) {
  int64_t v = 0;
  for (const auto& [mono, coef] : d.terms) {
    int64_t term = coef;
    for (const auto& sym : mono) {
      if (sym != kBatchSymbol) return std::nullopt;
      term *= batch;
    }
    v += term;
  }
  return v;
}

SymInt sym_product(const SymShape& shape, size_t begin, size_t end) {
  SymInt r = SymInt::fixed(1);
  for (size_t i = begin; i < end && i < shape.size(); ++i) r = sym_mul(r, shape[i]);
  return r;
}

SymShape fixed_shape(const Shape& shape) {
  SymShape out;
  for (int64_t d : shape) out.push_back(SymInt::fixed(d));
  return out;
}

std::vector<Dim> to_dims(const SymShape& shape) {
  std::vector<Dim> dims;
  for (const SymInt& d : shape)
    dims.push_back(d.is_fixed() ? Dim::fixed(d.value()) : Dim::symbolic(d.to_string()));
  return dims;
}

bool is_int_dtype(DType t) {
  return t == DType::kInt64 || t == DType::kInt32;
}

// An integer tensor of rank <= 1 whose elements are known up to symbolic dims (a shape vector
// computed from Shape). Fully known ones are also stored as constants.
struct SymTensor {
  DType dtype = DType::kInt64;
  Shape shape;  // {} or {n}
  std::vector<SymInt> elems;
  bool all_fixed() const {
    return std::all_of(elems.begin(), elems.end(), [](const SymInt& e) { return e.is_fixed(); });
  }
  Tensor to_tensor() const {
    Tensor t(dtype, shape);
    for (size_t i = 0; i < elems.size(); ++i) {
      if (dtype == DType::kInt64)
        t.data<int64_t>()[i] = elems[i].value();
      else
        t.data<int32_t>()[i] = static_cast<int32_t>(elems[i].value());
    }
    return t;
  }
};

int64_t normalize_axis(int64_t axis, int64_t rank) {
  return axis < 0 ? axis + rank : axis;
}

// What the analysis learns about a topologically sorted graph.
class Analysis {
 public:
  explicit Analysis(const Graph& graph) : graph_(graph) {}

  Status run();

  std::map<std::string, Tensor> consts;      // initializers and folded values
  std::map<std::string, SymTensor> symvals;  // partially known shape vectors
  std::map<std::string, SymShape> shapes;
  std::map<size_t, Tensor> reshape_shapes;  // Reshape node index -> its resolved shape
  std::map<std::string, size_t> consumers;  // value -> number of node inputs reading it

  // Set before run(): the graph inputs' fixed first dim that the analysis follows as the
  // symbol kBatchSymbol instead (see make_batch_symbolic). Reshapes with constant shapes get
  // batch-free shapes in reshape_shapes; `batch_conflict` says why the batch cannot be freed.
  std::optional<int64_t> rebatch;
  std::string batch_conflict;

 private:
  std::optional<SymShape> shape_of(const std::string& name) const;
  const Tensor* const_of(const std::string& name) const;
  std::optional<SymTensor> sym_of(const std::string& name) const;
  std::optional<std::vector<int64_t>> ints_of(const Node& node, size_t input) const;
  std::optional<std::vector<int64_t>> axes_of(const Node& node) const;

  void fold(const Node& node);
  void set_const(const std::string& name, Tensor t);
  void set_sym(const std::string& name, SymTensor v);
  Status resolve_reshape(size_t index, const Node& node);
  void rebatch_reshape(size_t index, const Node& node);
  void check_batch_operands(const Node& node, const std::vector<std::optional<SymShape>>& outs);
  void batch_conflict_at(const Node& node, const std::string& why);
  std::vector<std::optional<SymShape>> infer(size_t index, const Node& node) const;
  std::optional<SymShape> infer_pool_like(const Node& node, bool conv) const;
  std::optional<SymShape> infer_reshape(size_t index, const Node& node) const;

  const Graph& graph_;
  std::map<std::string, SymShape> annotated_;  // value_info of the file, as a fallback
};

void Analysis::set_const(const std::string& name, Tensor t) {
  shapes[name] = fixed_shape(t.shape());
  if (is_int_dtype(t.dtype()) && t.rank() <= 1 && t.numel() <= kMaxTrackedElements) {
    SymTensor v{t.dtype(), t.shape(), {}};
    for (int64_t x : t.to_int64_vector()) v.elems.push_back(SymInt::fixed(x));
    symvals[name] = std::move(v);
  }
  consts[name] = std::move(t);
}

void Analysis::set_sym(const std::string& name, SymTensor v) {
  if (v.all_fixed()) {
    set_const(name, v.to_tensor());
    return;
  }
  shapes[name] = fixed_shape(v.shape);
  symvals[name] = std::move(v);
}

std::optional<SymShape> Analysis::shape_of(const std::string& name) const {
  if (auto it = shapes.find(name); it != shapes.end()) return it->second;
  if (auto it = annotated_.find(name); it != annotated_.end()) return it->second;
  return std::nullopt;
}

const Tensor* Analysis::const_of(const std::string& name) const {
  auto it = consts.find(name);
  return it == consts.end() ? nullptr : &it->second;
}

std::optional<SymTensor> Analysis::sym_of(const std::string& name) const {
  auto it = symvals.find(name);
  if (it == symvals.end()) return std::nullopt;
  return it->second;
}

// Integer values of a constant input (for axes, pads, starts, ...).
std::optional<std::vector<int64_t>> Analysis::ints_of(const Node& node, size_t input) const {
  if (!node.has_input(input)) return std::nullopt;
  const Tensor* t = const_of(node.inputs[input]);
  if (t == nullptr || !is_int_dtype(t->dtype())) return std::nullopt;
  return t->to_int64_vector();
}

// Unsqueeze/Squeeze axes: an input from opset 13 on, an attribute before.
std::optional<std::vector<int64_t>> Analysis::axes_of(const Node& node) const {
  if (node.has_input(1)) return ints_of(node, 1);
  if (node.has_attr("axes")) return node.attr_ints("axes");
  return std::vector<int64_t>{};
}

std::optional<Shape> unsqueezed(const Shape& in, std::vector<int64_t> axes) {
  const int64_t rank = static_cast<int64_t>(in.size() + axes.size());
  for (auto& a : axes) {
    a = normalize_axis(a, rank);
    if (a < 0 || a >= rank) return std::nullopt;
  }
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) return std::nullopt;
  Shape out;
  size_t next = 0;
  for (int64_t i = 0; i < rank; ++i) {
    if (std::binary_search(axes.begin(), axes.end(), i))
      out.push_back(1);
    else
      out.push_back(in[next++]);
  }
  return out;
}

std::optional<Shape> squeezed(const Shape& in, std::vector<int64_t> axes) {
  const int64_t rank = static_cast<int64_t>(in.size());
  if (axes.empty())
    for (int64_t i = 0; i < rank; ++i)
      if (in[i] == 1) axes.push_back(i);
  for (auto& a : axes) {
    a = normalize_axis(a, rank);
    if (a < 0 || a >= rank || in[a] != 1) return std::nullopt;
  }
  Shape out;
  for (int64_t i = 0; i < rank; ++i)
    if (std::find(axes.begin(), axes.end(), i) == axes.end()) out.push_back(in[i]);
  return out;
}

std::optional<DType> dtype_from_onnx_code(int64_t code) {
  switch (code) {
    case 1:
      return DType::kFloat32;
    case 2:
      return DType::kUInt8;
    case 3:
      return DType::kInt8;
    case 6:
      return DType::kInt32;
    case 7:
      return DType::kInt64;
    case 9:
      return DType::kBool;
    default:
      return std::nullopt;
  }
}

// Converts integer values into a tensor of an integer dtype.
Tensor int_tensor(DType dtype, Shape shape, const std::vector<int64_t>& values) {
  Tensor t(dtype, std::move(shape));
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == DType::kInt64)
      t.data<int64_t>()[i] = values[i];
    else
      t.data<int32_t>()[i] = static_cast<int32_t>(values[i]);
  }
  return t;
}

// Computes what can be computed of a node's outputs at load time.
void Analysis::fold(const Node& node) {
  const std::string& op = node.op_type;
  if (!node.domain.empty() && node.domain != "ai.onnx") return;
  if (node.outputs.empty() || node.outputs[0].empty()) return;
  const std::string& out = node.outputs[0];

  if (op == "Constant") {
    auto it = node.attributes.begin();
    if (node.attributes.size() != 1) return;
    const auto& [key, attr] = *it;
    if (key == "value" && attr.kind == Attribute::Kind::kTensor && !attr.t.empty())
      set_const(out, attr.t);
    else if (key == "value_float")
      set_const(out, Tensor::scalar(attr.f));
    else if (key == "value_floats")
      set_const(
          out, Tensor::from_vector<float>({static_cast<int64_t>(attr.floats.size())}, attr.floats));
    else if (key == "value_int")
      set_const(out, Tensor::from_vector<int64_t>({}, {attr.i}));
    else if (key == "value_ints")
      set_const(out,
                Tensor::from_vector<int64_t>({static_cast<int64_t>(attr.ints.size())}, attr.ints));
    return;
  }
  if (op == "Identity") {
    if (const Tensor* t = const_of(node.inputs[0]))
      set_const(out, *t);
    else if (auto v = sym_of(node.inputs[0]))
      set_sym(out, *v);
    return;
  }
  if (op == "Shape") {
    auto shape = shape_of(node.inputs[0]);
    if (!shape) return;
    const int64_t rank = static_cast<int64_t>(shape->size());
    int64_t start = std::clamp<int64_t>(normalize_axis(node.attr_int("start", 0), rank), 0, rank);
    int64_t end = std::clamp<int64_t>(normalize_axis(node.attr_int("end", rank), rank), 0, rank);
    SymTensor v{DType::kInt64, {std::max<int64_t>(end - start, 0)}, {}};
    for (int64_t i = start; i < end; ++i) v.elems.push_back((*shape)[i]);
    set_sym(out, std::move(v));
    return;
  }
  if (op == "Gather") {
    auto data = sym_of(node.inputs[0]);
    const Tensor* indices = node.has_input(1) ? const_of(node.inputs[1]) : nullptr;
    if (!data || data->shape.size() != 1 || indices == nullptr || !is_int_dtype(indices->dtype()) ||
        indices->rank() > 1)
      return;
    if (normalize_axis(node.attr_int("axis", 0), 1) != 0) return;
    const int64_t n = data->shape[0];
    SymTensor v{data->dtype, indices->shape(), {}};
    for (int64_t i : indices->to_int64_vector()) {
      if (i < 0) i += n;
      if (i < 0 || i >= n) return;
      v.elems.push_back(data->elems[i]);
    }
    set_sym(out, std::move(v));
    return;
  }
  if (op == "Unsqueeze" || op == "Squeeze") {
    auto axes = axes_of(node);
    if (!axes) return;
    const bool unsq = op == "Unsqueeze";
    if (auto v = sym_of(node.inputs[0])) {
      auto shape = unsq ? unsqueezed(v->shape, *axes) : squeezed(v->shape, *axes);
      if (!shape || shape->size() > 1) return;
      v->shape = *shape;
      set_sym(out, std::move(*v));
    } else if (const Tensor* t = const_of(node.inputs[0]); t && is_int_dtype(t->dtype())) {
      auto shape = unsq ? unsqueezed(t->shape(), *axes) : squeezed(t->shape(), *axes);
      if (shape) set_const(out, t->reshaped(*shape));
    }
    return;
  }
  if (op == "Concat") {
    SymTensor v;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (node.inputs[i].empty()) continue;
      auto part = sym_of(node.inputs[i]);
      if (!part || part->shape.size() != 1) return;
      if (v.elems.empty()) v.dtype = part->dtype;
      if (part->dtype != v.dtype) return;
      v.elems.insert(v.elems.end(), part->elems.begin(), part->elems.end());
    }
    if (normalize_axis(node.attr_int("axis", 0), 1) != 0) return;
    v.shape = {static_cast<int64_t>(v.elems.size())};
    set_sym(out, std::move(v));
    return;
  }
  if (op == "Cast") {
    auto to = dtype_from_onnx_code(node.attr_int("to", 0));
    if (!to || !is_int_dtype(*to)) return;  // float results are computation: left alone
    if (auto v = sym_of(node.inputs[0])) {
      v->dtype = *to;
      set_sym(out, std::move(*v));
    } else if (const Tensor* t = const_of(node.inputs[0])) {
      std::vector<int64_t> values;
      if (t->dtype() == DType::kFloat32)
        for (float f : t->span<float>()) values.push_back(float_to_int64(f));
      else if (t->dtype() == DType::kBool)
        for (bool b : t->span<bool>()) values.push_back(b ? 1 : 0);
      else if (t->dtype() == DType::kInt8)
        for (int8_t x : t->span<int8_t>()) values.push_back(x);
      else if (t->dtype() == DType::kUInt8)
        for (uint8_t x : t->span<uint8_t>()) values.push_back(x);
      else
        values = t->to_int64_vector();
      set_const(out, int_tensor(*to, t->shape(), values));
    }
    return;
  }
  if (op == "Slice") {
    auto data = sym_of(node.inputs[0]);
    auto starts = ints_of(node, 1);
    auto ends = ints_of(node, 2);
    if (!data || data->shape.size() != 1 || !starts || !ends || starts->size() != 1 ||
        ends->size() != 1)
      return;
    if (node.has_input(3)) {
      auto axes = ints_of(node, 3);
      if (!axes || axes->size() != 1 || normalize_axis((*axes)[0], 1) != 0) return;
    }
    int64_t step = 1;
    if (node.has_input(4)) {
      auto steps = ints_of(node, 4);
      if (!steps || steps->size() != 1 || (*steps)[0] == 0) return;
      step = (*steps)[0];
    }
    const int64_t n = data->shape[0];
    int64_t start = (*starts)[0], end = (*ends)[0];
    if (start < 0) start += n;
    if (end < 0) end += n;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, n);
      end = std::clamp<int64_t>(end, 0, n);
    } else {
      start = std::clamp<int64_t>(start, -1, n - 1);
      end = std::clamp<int64_t>(end, -1, n - 1);
    }
    SymTensor v{data->dtype, {}, {}};
    // start and end are within [-1, n]; the step may be anything, so it is never added unless
    // the next index is still inside (i + step could overflow).
    for (int64_t i = start; step > 0 ? i < end : i > end;) {
      v.elems.push_back(data->elems[i]);
      const int64_t remaining = end - i;
      if (step > 0 ? step >= remaining : step <= remaining) break;
      i += step;
    }
    v.shape = {static_cast<int64_t>(v.elems.size())};
    set_sym(out, std::move(v));
    return;
  }
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    auto a = sym_of(node.inputs[0]);
    auto b = node.has_input(1) ? sym_of(node.inputs[1]) : std::nullopt;
    if (!a || !b || a->dtype != b->dtype) return;
    const size_t na = a->elems.size(), nb = b->elems.size();
    if (na != nb && na != 1 && nb != 1) return;
    SymTensor v{a->dtype, a->shape.size() >= b->shape.size() ? a->shape : b->shape, {}};
    if (na == 1 && nb != 1) v.shape = b->shape;
    if (nb == 1 && na != 1) v.shape = a->shape;
    for (size_t i = 0; i < std::max(na, nb); ++i) {
      const SymInt& x = a->elems[na == 1 ? 0 : i];
      const SymInt& y = b->elems[nb == 1 ? 0 : i];
      if (op == "Add") {
        v.elems.push_back(sym_add(x, y));
      } else if (op == "Sub") {
        v.elems.push_back(sym_sub(x, y));
      } else if (op == "Mul") {
        v.elems.push_back(sym_mul(x, y));
      } else {
        auto q = sym_div(x, y);
        if (!q) return;
        v.elems.push_back(*q);
      }
    }
    set_sym(out, std::move(v));
    return;
  }
  if (op == "ConstantOfShape") {
    const Tensor* shape_t = const_of(node.inputs[0]);
    if (shape_t == nullptr || !is_int_dtype(shape_t->dtype()) || shape_t->rank() != 1) return;
    Shape shape = shape_t->to_int64_vector();
    const std::optional<int64_t> numel = checked_numel(shape);  // none: a negative dim or overflow
    if (!numel || *numel > kMaxFoldedElements) return;
    Tensor value = Tensor::scalar(0.0f);
    if (auto it = node.attributes.find("value"); it != node.attributes.end()) {
      if (it->second.kind != Attribute::Kind::kTensor || it->second.t.numel() != 1) return;
      value = it->second.t;
    }
    Tensor result(value.dtype(), shape);
    const size_t elem = dtype_size(value.dtype());
    auto* dst = static_cast<std::byte*>(result.raw());
    for (int64_t i = 0; i < result.numel(); ++i) std::memcpy(dst + i * elem, value.raw(), elem);
    set_const(out, std::move(result));
    return;
  }
}

// A Reshape whose shape input is known only up to symbolic dims gets a constant shape: a
// symbolic entry equal to the input's dim at the same position becomes 0 (copy), and the one
// remaining unknown entry, if any, becomes -1.
Status Analysis::resolve_reshape(size_t index, const Node& node) {
  if (!node.has_input(1) || const_of(node.inputs[1]) != nullptr) return Status::Ok();
  auto target = sym_of(node.inputs[1]);
  if (!target) return Status::Ok();  // computed at run time: the kernel decides
  if (target->shape.size() != 1)
    return make_error(ErrorCode::kInvalidArgument, node.describe(), ": shape input '",
                      node.inputs[1], "' must be 1-D, got rank ", target->shape.size());
  const auto data_shape = shape_of(node.inputs[0]);
  const bool allow_zero = node.attr_int("allowzero", 0) != 0;
  std::vector<int64_t> resolved;
  std::vector<size_t> unknown;
  bool has_minus_one = false;
  for (size_t i = 0; i < target->elems.size(); ++i) {
    const SymInt& e = target->elems[i];
    if (e.is_fixed()) {
      resolved.push_back(e.value());
      has_minus_one |= e.value() == -1;
    } else if (!allow_zero && data_shape && i < data_shape->size() && (*data_shape)[i] == e) {
      resolved.push_back(0);
    } else {
      resolved.push_back(-1);
      unknown.push_back(i);
    }
  }
  if (unknown.size() > 1 || (unknown.size() == 1 && has_minus_one)) {
    std::string entries;
    for (size_t i : unknown) {
      if (!entries.empty()) entries += ", ";
      entries += std::to_string(i);
      entries += " = ";
      entries += target->elems[i].to_string();
    }
    return make_error(ErrorCode::kUnsupported, node.describe(), ": cannot fold shape input '",
                      node.inputs[1], "' to a constant: entries {", entries,
                      "} depend on symbolic dims and are neither the input's dim at the same "
                      "position (0) nor the only unknown entry (-1). Export the model with a "
                      "fixed input shape or with a shape of at most one inferred entry");
  }
  reshape_shapes[index] =
      Tensor::from_vector<int64_t>({static_cast<int64_t>(resolved.size())}, resolved);
  return Status::Ok();
}

void Analysis::batch_conflict_at(const Node& node, const std::string& why) {
  if (batch_conflict.empty()) batch_conflict = node.describe() + " " + why;
}

// A Reshape to a constant shape that was computed for the fixed batch B: the first output axis
// that starts where the input's batch axis starts and whose size is a multiple of B becomes
// -1, so that it scales with the batch ([B, 784] -> [-1, 784]; [L, B*H, d] -> [L, -1, d] when
// the batch is the input's second axis): the batch is taken to be the leading factor of that
// axis, as in every reshape that keeps samples apart. With no such axis the rewrite is unsafe.
void Analysis::rebatch_reshape(size_t index, const Node& node) {
  if (!node.has_input(1)) return;
  const Tensor* target = const_of(node.inputs[1]);
  if (target == nullptr || reshape_shapes.count(index)) return;  // symbolic: resolved already
  if (!is_int_dtype(target->dtype()) || target->rank() != 1)
    return batch_conflict_at(node, "has a shape input that is not a 1-D integer tensor");
  const auto in = shape_of(node.inputs[0]);
  if (!in) return batch_conflict_at(node, "reads a value whose shape is unknown");
  std::vector<size_t> batch_axes;
  for (size_t i = 0; i < in->size(); ++i)
    if (has_batch((*in)[i])) batch_axes.push_back(i);
  if (batch_axes.empty()) return;  // the batch does not reach this value
  if (batch_axes.size() > 1)
    return batch_conflict_at(node, "reads a value with the batch in several axes");
  const int64_t b = *rebatch;
  Shape in_b;  // the input's shape at the fixed batch
  for (const SymInt& d : *in) {
    auto v = at_batch(d, b);
    if (!v) return batch_conflict_at(node, "reads a value with symbolic sizes besides the batch");
    in_b.push_back(*v);
  }
  const size_t p = batch_axes[0];
  std::vector<int64_t> t = target->to_int64_vector();
  const bool allow_zero = node.attr_int("allowzero", 0) != 0;
  int64_t known = 1;
  std::optional<size_t> infer_at;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == 0 && !allow_zero) {
      if (i >= in_b.size()) return batch_conflict_at(node, "copies an axis its input lacks");
      t[i] = in_b[i];
    }
    if (t[i] == -1) {
      if (infer_at) return batch_conflict_at(node, "has two -1 entries");
      infer_at = i;
    } else {
      known *= t[i];
    }
  }
  const int64_t numel = shape_numel(in_b);
  if (infer_at) {
    if (known == 0 || numel % known != 0)
      return batch_conflict_at(node, "has a shape that does not fit its input");
    t[*infer_at] = numel / known;
  }
  int64_t prefix = 1;
  for (size_t i = 0; i < p; ++i) prefix *= in_b[i];
  int64_t before = 1;
  for (size_t k = 0; k < t.size(); ++k) {
    if (before == prefix && t[k] % b == 0) {
      t[k] = -1;
      reshape_shapes[index] = Tensor::from_vector<int64_t>({static_cast<int64_t>(t.size())}, t);
      return;
    }
    before *= t[k];
  }
  batch_conflict_at(node, "reshapes to " + shape_to_string(target->to_int64_vector()) +
                              ", which mixes the batch of " + std::to_string(b) +
                              " into other axes");
}

// Operands that broadcast or concatenate against each other must agree on the batch: a fixed
// size where the other operand has the batch means the model was built for that batch alone
// (an Expand to [B, 1, d] of a class token, a mask of batch B).
void Analysis::check_batch_operands(const Node& node,
                                    const std::vector<std::optional<SymShape>>& outs) {
  static const std::set<std::string, std::less<>> kBroadcasting = {
      "Add",     "Sub", "Mul", "Div", "Pow", "Where", "Equal", "Less",
      "Greater", "And", "Or",  "Max", "Min", "Sum",   "PRelu"};
  const std::string& op = node.op_type;
  const bool concat = op == "Concat";
  if (concat || kBroadcasting.count(op) || op == "MatMul") {
    std::vector<SymShape> operands;
    for (const auto& in : node.inputs) {
      if (in.empty()) continue;
      auto sh = shape_of(in);
      if (!sh) return batch_conflict_at(node, "reads a value whose shape is unknown");
      operands.push_back(*sh);
    }
    const int64_t axis = concat ? node.attr_int("axis", 0) : 0;
    for (const SymShape& x : operands)
      for (const SymShape& y : operands) {
        const size_t rank = std::max(x.size(), y.size());
        const size_t skip_tail = op == "MatMul" ? 2 : 0;  // the matrix axes
        for (size_t i = 0; i + skip_tail < rank; ++i) {
          if (i + x.size() < rank || i + y.size() < rank) continue;
          const SymInt& dx = x[i + x.size() - rank];
          const SymInt& dy = y[i + y.size() - rank];
          if (concat && static_cast<int64_t>(i) == normalize_axis(axis, rank)) continue;
          const bool fixed_other = dy.is_fixed() && (concat || dy.value() != 1);
          if (has_batch(dx) && fixed_other)
            return batch_conflict_at(node, "combines a batch-sized value with a fixed size of " +
                                               std::to_string(dy.value()) + " in the same axis");
        }
      }
  }
  // The axes a Gemm or MatMul contracts: a batch-sized one against a fixed one means the batch
  // was folded into the features (x.view(1, -1) at batch B).
  if ((op == "Gemm" || op == "MatMul") && node.has_input(1)) {
    auto a = shape_of(node.inputs[0]);
    auto w = shape_of(node.inputs[1]);
    if (a && w && !a->empty() && !w->empty()) {
      const bool ta = op == "Gemm" && node.attr_int("transA", 0) != 0;
      const bool tb = op == "Gemm" && node.attr_int("transB", 0) != 0;
      const SymInt& ka = ta ? a->front() : a->back();
      const SymInt& kb = w->size() == 1 ? w->front() : tb ? w->back() : (*w)[w->size() - 2];
      if (has_batch(ka) && kb.is_fixed())
        return batch_conflict_at(node, "contracts a batch-sized axis with a fixed size of " +
                                           std::to_string(kb.value()) +
                                           " (the batch was folded into the features)");
    }
  }
  for (size_t o = 0; o < node.outputs.size(); ++o)
    if (!node.outputs[o].empty() && !outs[o] && !shapes.count(node.outputs[o]))
      return batch_conflict_at(node, "has an output whose shape retort cannot follow");
}

std::optional<SymShape> broadcast(const SymShape& a, const SymShape& b) {
  const size_t rank = std::max(a.size(), b.size());
  SymShape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const SymInt one = SymInt::fixed(1);
    const SymInt& x = i + a.size() >= rank ? a[i + a.size() - rank] : one;
    const SymInt& y = i + b.size() >= rank ? b[i + b.size() - rank] : one;
    if (x == y || y == one)
      out[i] = x;
    else if (x == one)
      out[i] = y;
    else if (x.is_fixed() && y.is_fixed())
      return std::nullopt;  // incompatible
    else
      out[i] = x.is_fixed() ? x : y;  // a symbolic dim must equal the fixed one
  }
  return out;
}

// Output size of a convolution or pooling window along one axis.
SymInt window_output(const SymInt& in, int64_t kernel, int64_t stride, int64_t dilation,
                     int64_t pad_begin, int64_t pad_end, const std::string& auto_pad,
                     bool ceil_mode, const std::string& opaque_name) {
  if (!in.is_fixed()) return SymInt::symbol(opaque_name);
  // In 128 bits: kernel, stride, dilation and pads come from the file and may be anything
  // positive (the caller checked), so int64 arithmetic could overflow.
  using Wide = __int128;
  const Wide n = in.value();
  const Wide effective = (Wide{kernel} - 1) * dilation + 1;
  Wide out = 0;
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    out = (n + stride - 1) / stride;
  } else if (auto_pad == "VALID") {
    out = (n - effective) / stride + 1;
  } else {
    const Wide span = n + pad_begin + pad_end - effective;
    out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
    // A window may not start in the end padding (ONNX, PyTorch and ONNX Runtime agree).
    if (ceil_mode && (out - 1) * stride >= n + pad_begin) --out;
  }
  if (out < std::numeric_limits<int64_t>::min() || out > std::numeric_limits<int64_t>::max())
    return SymInt::symbol(opaque_name);
  return SymInt::fixed(static_cast<int64_t>(out));
}

std::optional<SymShape> Analysis::infer_pool_like(const Node& node, bool conv) const {
  auto x = shape_of(node.inputs[0]);
  if (!x || x->size() < 3) return std::nullopt;
  const size_t spatial = x->size() - 2;
  std::vector<int64_t> kernel = node.attr_ints("kernel_shape");
  SymInt channels = (*x)[1];
  if (conv) {
    auto w = node.has_input(1) ? shape_of(node.inputs[1]) : std::nullopt;
    if (!w || w->size() != x->size()) return std::nullopt;
    channels = (*w)[0];
    if (kernel.empty())
      for (size_t i = 0; i < spatial; ++i) {
        if (!(*w)[i + 2].is_fixed()) return std::nullopt;
        kernel.push_back((*w)[i + 2].value());
      }
  }
  if (kernel.size() != spatial) return std::nullopt;
  const auto strides = node.attr_ints("strides", std::vector<int64_t>(spatial, 1));
  const auto dilations = node.attr_ints("dilations", std::vector<int64_t>(spatial, 1));
  const auto pads = node.attr_ints("pads", std::vector<int64_t>(2 * spatial, 0));
  if (strides.size() != spatial || dilations.size() != spatial || pads.size() != 2 * spatial)
    return std::nullopt;
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  const bool ceil_mode = node.attr_int("ceil_mode", 0) != 0;
  SymShape out{(*x)[0], channels};
  for (size_t i = 0; i < spatial; ++i) {
    if (strides[i] <= 0 || dilations[i] <= 0 || kernel[i] <= 0) return std::nullopt;
    out.push_back(window_output((*x)[i + 2], kernel[i], strides[i], dilations[i], pads[i],
                                pads[i + spatial], auto_pad, ceil_mode,
                                node.outputs[0] + "[" + std::to_string(i + 2) + "]"));
  }
  return out;
}

std::optional<SymShape> Analysis::infer_reshape(size_t index, const Node& node) const {
  auto x = shape_of(node.inputs[0]);
  std::vector<int64_t> target;
  if (auto it = reshape_shapes.find(index); it != reshape_shapes.end())
    target = it->second.to_int64_vector();
  else if (auto t = ints_of(node, 1))
    target = *t;
  else
    return std::nullopt;
  const bool allow_zero = node.attr_int("allowzero", 0) != 0;
  SymShape out;
  std::optional<size_t> infer_at;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == 0 && !allow_zero) {
      if (!x || i >= x->size()) return std::nullopt;
      out.push_back((*x)[i]);
    } else if (target[i] == -1) {
      if (infer_at) return std::nullopt;
      infer_at = i;
      out.push_back(SymInt::fixed(1));
    } else {
      out.push_back(SymInt::fixed(target[i]));
    }
  }
  if (infer_at) {
    if (!x) return std::nullopt;
    auto q = sym_div(sym_product(*x, 0, x->size()), sym_product(out, 0, out.size()));
    if (!q) return std::nullopt;
    out[*infer_at] = *q;
  }
  return out;
}

std::vector<std::optional<SymShape>> Analysis::infer(size_t index, const Node& node) const {
  static const std::set<std::string, std::less<>> kSameShape = {"Relu",
                                                                "LeakyRelu",
                                                                "Sigmoid",
                                                                "Tanh",
                                                                "Softmax",
                                                                "LogSoftmax",
                                                                "Dropout",
                                                                "Identity",
                                                                "Cast",
                                                                "Erf",
                                                                "Exp",
                                                                "Log",
                                                                "Sqrt",
                                                                "Neg",
                                                                "Abs",
                                                                "Clip",
                                                                "Elu",
                                                                "HardSigmoid",
                                                                "Softplus",
                                                                "QuantizeLinear",
                                                                "DequantizeLinear",
                                                                "BatchNormalization",
                                                                "LayerNormalization",
                                                                "Gelu"};
  std::vector<std::optional<SymShape>> outs(node.outputs.size());
  if (node.inputs.empty() || node.inputs[0].empty()) return outs;
  const std::string& op = node.op_type;
  if (kSameShape.count(op)) {
    outs[0] = shape_of(node.inputs[0]);
    if (op == "Dropout" && outs.size() > 1) outs[1] = outs[0];
    return outs;
  }
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow") {
    auto a = shape_of(node.inputs[0]);
    auto b = node.has_input(1) ? shape_of(node.inputs[1]) : std::nullopt;
    if (a && b) outs[0] = broadcast(*a, *b);
    return outs;
  }
  if (op == "Gemm") {
    auto a = shape_of(node.inputs[0]);
    auto b = node.has_input(1) ? shape_of(node.inputs[1]) : std::nullopt;
    if (!a || !b || a->size() != 2 || b->size() != 2) return outs;
    const SymInt& m = node.attr_int("transA", 0) ? (*a)[1] : (*a)[0];
    const SymInt& n = node.attr_int("transB", 0) ? (*b)[0] : (*b)[1];
    outs[0] = SymShape{m, n};
    return outs;
  }
  if (op == "MatMul") {
    auto a = shape_of(node.inputs[0]);
    auto b = node.has_input(1) ? shape_of(node.inputs[1]) : std::nullopt;
    if (!a || !b || a->empty() || b->empty()) return outs;
    SymShape sa = *a, sb = *b;
    const bool a_vec = sa.size() == 1, b_vec = sb.size() == 1;
    if (a_vec) sa.insert(sa.begin(), SymInt::fixed(1));
    if (b_vec) sb.push_back(SymInt::fixed(1));
    auto batch = broadcast(SymShape(sa.begin(), sa.end() - 2), SymShape(sb.begin(), sb.end() - 2));
    if (!batch) return outs;
    SymShape out = *batch;
    if (!a_vec) out.push_back(sa[sa.size() - 2]);
    if (!b_vec) out.push_back(sb.back());
    outs[0] = out;
    return outs;
  }
  if (op == "Conv") {
    outs[0] = infer_pool_like(node, /*conv=*/true);
    return outs;
  }
  if (op == "MaxPool" || op == "AveragePool") {
    outs[0] = infer_pool_like(node, /*conv=*/false);
    if (outs.size() > 1) outs[1] = outs[0];
    return outs;
  }
  if (op == "GlobalAveragePool" || op == "GlobalMaxPool") {
    auto x = shape_of(node.inputs[0]);
    if (!x || x->size() < 3) return outs;
    SymShape out{(*x)[0], (*x)[1]};
    out.resize(x->size(), SymInt::fixed(1));
    outs[0] = out;
    return outs;
  }
  if (op == "Pad") {
    auto x = shape_of(node.inputs[0]);
    auto pads = node.has_input(1) ? ints_of(node, 1) : std::optional(node.attr_ints("pads"));
    if (!x || !pads || pads->size() != 2 * x->size()) return outs;
    SymShape out = *x;
    for (size_t i = 0; i < out.size(); ++i) {
      int64_t total = 0;
      if (__builtin_add_overflow((*pads)[i], (*pads)[i + out.size()], &total)) return outs;
      out[i] = sym_add(out[i], SymInt::fixed(total));
    }
    outs[0] = out;
    return outs;
  }
  if (op == "Flatten") {
    auto x = shape_of(node.inputs[0]);
    if (!x) return outs;
    const int64_t rank = static_cast<int64_t>(x->size());
    const int64_t axis = normalize_axis(node.attr_int("axis", 1), rank);
    if (axis < 0 || axis > rank) return outs;
    outs[0] = SymShape{sym_product(*x, 0, axis), sym_product(*x, axis, rank)};
    return outs;
  }
  if (op == "Reshape") {
    outs[0] = infer_reshape(index, node);
    return outs;
  }
  if (op == "Concat") {
    std::optional<SymShape> out;
    int64_t axis = node.attr_int("axis", 0);
    for (const auto& in : node.inputs) {
      if (in.empty()) continue;
      auto s = shape_of(in);
      if (!s) return outs;
      const int64_t a = normalize_axis(axis, static_cast<int64_t>(s->size()));
      if (a < 0 || a >= static_cast<int64_t>(s->size())) return outs;
      if (!out) {
        out = s;
      } else {
        if (out->size() != s->size()) return outs;
        (*out)[a] = sym_add((*out)[a], (*s)[a]);
      }
    }
    outs[0] = out;
    return outs;
  }
  if (op == "Transpose") {
    auto x = shape_of(node.inputs[0]);
    if (!x) return outs;
    std::vector<int64_t> perm = node.attr_ints("perm");
    if (perm.empty())
      for (int64_t i = static_cast<int64_t>(x->size()) - 1; i >= 0; --i) perm.push_back(i);
    if (perm.size() != x->size()) return outs;
    SymShape out;
    for (int64_t p : perm) {
      if (p < 0 || p >= static_cast<int64_t>(x->size())) return outs;
      out.push_back((*x)[p]);
    }
    outs[0] = out;
    return outs;
  }
  if (op == "ConstantOfShape") {
    if (auto v = sym_of(node.inputs[0]); v && v->shape.size() == 1) outs[0] = v->elems;
    return outs;
  }
  return outs;
}

Status Analysis::run() {
  // The file's annotations hold the fixed batch: following a symbolic one, ignore them.
  for (const ValueInfo& vi : rebatch ? std::vector<ValueInfo>{} : graph_.value_infos) {
    SymShape s;
    for (size_t i = 0; i < vi.dims.size(); ++i) {
      const Dim& d = vi.dims[i];
      s.push_back(d.is_fixed() ? SymInt::fixed(d.value)
                               : SymInt::symbol(d.param.empty()
                                                    ? "?" + vi.name + "[" + std::to_string(i) + "]"
                                                    : d.param));
    }
    annotated_[vi.name] = s;
  }
  for (const ValueInfo& vi : graph_.inputs) {
    SymShape s;
    for (size_t i = 0; i < vi.dims.size(); ++i) {
      const Dim& d = vi.dims[i];
      if (rebatch && i == 0 && vi.dims.size() >= 2 && d.is_fixed() && d.value == *rebatch)
        s.push_back(SymInt::symbol(kBatchSymbol));
      else if (d.is_fixed())
        s.push_back(SymInt::fixed(d.value));
      else  // unnamed unknown dims get a unique name so that only they compare equal
        s.push_back(SymInt::symbol(d.param.empty() ? "?" + vi.name + "[" + std::to_string(i) + "]"
                                                   : d.param));
    }
    shapes[vi.name] = s;
  }
  for (const auto& [name, t] : graph_.initializers) set_const(name, t);
  for (const Node& node : graph_.nodes)
    for (const auto& in : node.inputs)
      if (!in.empty()) ++consumers[in];

  Status first_error;
  for (size_t i = 0; i < graph_.nodes.size(); ++i) {
    const Node& node = graph_.nodes[i];
    fold(node);
    if (node.op_type == "Reshape" && node.domain.empty()) {
      Status s = resolve_reshape(i, node);
      if (!s.ok() && first_error.ok()) first_error = s;
      if (rebatch) rebatch_reshape(i, node);
    }
    auto inferred = infer(i, node);
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      if (node.outputs[o].empty() || shapes.count(node.outputs[o])) continue;
      if (inferred[o]) shapes[node.outputs[o]] = *inferred[o];
    }
    if (rebatch) check_batch_operands(node, inferred);
  }
  return first_error;
}

}  // namespace

Status fold_constants(Model& model) {
  Graph& g = model.graph;
  Analysis a(g);
  RETORT_RETURN_IF_ERROR(a.run());

  std::set<std::string> graph_outputs;
  for (const auto& vi : g.outputs) graph_outputs.insert(vi.name);
  std::set<std::string> graph_inputs;
  for (const auto& vi : g.inputs) graph_inputs.insert(vi.name);

  // Give each Reshape with a symbolic shape its resolved constant shape. The shape value keeps
  // its name when this Reshape is its only reader (its producers then fold away).
  std::set<std::string> new_names;
  for (auto& [index, shape] : a.reshape_shapes) {
    Node& node = g.nodes[index];
    std::string name = node.inputs[1];
    if (a.consumers[name] != 1 || graph_outputs.count(name)) {
      std::string base = g.unique_name(name + "_folded");
      name = base;
      for (int k = 1; new_names.count(name) || a.consts.count(name); ++k)
        name = base + "_" + std::to_string(k);
      new_names.insert(name);
      --a.consumers[node.inputs[1]];
      a.consumers[name] = 1;
      node.inputs[1] = name;
    }
    a.consts[name] = shape;
  }

  // Nodes whose every output is now a constant go; their outputs become initializers below.
  std::vector<Node> kept;
  for (Node& node : g.nodes) {
    bool folded = !node.outputs.empty();
    for (const auto& out : node.outputs)
      if (!out.empty() && (!a.consts.count(out) || graph_outputs.count(out))) folded = false;
    if (!folded) kept.push_back(std::move(node));
  }

  // Dead nodes: nothing reads any of their outputs (one reverse pass over the sorted nodes).
  std::unordered_set<std::string> needed(graph_outputs.begin(), graph_outputs.end());
  std::vector<Node> live;
  for (auto it = kept.rbegin(); it != kept.rend(); ++it) {
    bool used = false;
    for (const auto& out : it->outputs) used |= !out.empty() && needed.count(out) != 0;
    if (!used) continue;
    for (const auto& in : it->inputs)
      if (!in.empty()) needed.insert(in);
    live.push_back(std::move(*it));
  }
  std::reverse(live.begin(), live.end());
  g.nodes = std::move(live);

  std::unordered_set<std::string> produced;
  for (const Node& node : g.nodes)
    for (const auto& out : node.outputs) produced.insert(out);
  std::map<std::string, Tensor> initializers;
  for (const auto& name : needed) {
    if (produced.count(name) || graph_inputs.count(name)) continue;
    auto it = a.consts.find(name);
    if (it != a.consts.end()) initializers[name] = it->second;
  }
  // Float tensors that were Constant nodes (Python numbers in a PyTorch export) are constants
  // wherever an Add, Mul or Concat reads them; only an operator's weight input trains them.
  std::set<std::string> read_as_weight;
  for (const Node& node : g.nodes)
    for (size_t i = 0; i < node.inputs.size(); ++i)
      if (is_operator_weight(node, i)) read_as_weight.insert(node.inputs[i]);
  std::vector<std::string> folded_constants;
  for (const auto& [name, t] : initializers)
    if (t.dtype() == DType::kFloat32 && !g.initializers.count(name) && !read_as_weight.count(name))
      folded_constants.push_back(name);
  if (!folded_constants.empty()) model.add_listed(kConstantsKey, folded_constants);
  g.initializers = std::move(initializers);

  std::erase_if(g.value_infos, [&](const ValueInfo& vi) { return !produced.count(vi.name); });
  return Status::Ok();
}

FixedBatch analyze_fixed_batch(const Model& model) {
  const Graph& g = model.graph;
  FixedBatch result;
  for (const ValueInfo& in : g.inputs) {
    if (in.dims.size() < 2) continue;
    if (!in.dims[0].is_fixed()) return {};  // a symbolic batch: nothing to do
    if (result.batch != 0 && in.dims[0].value != result.batch) {
      result.conflict = "its graph inputs have different fixed first dims (" +
                        std::to_string(result.batch) + " and " + std::to_string(in.dims[0].value) +
                        ")";
      return result;
    }
    result.batch = in.dims[0].value;
  }
  if (result.batch <= 0) return {};
  for (const ValueInfo& in : g.inputs)
    for (const Dim& d : in.dims)
      if (d.param == kBatchSymbol) {
        result.conflict = "it already uses the symbol 'batch' for another axis";
        return result;
      }
  Analysis a(g);
  a.rebatch = result.batch;
  if (Status s = a.run(); !s.ok()) {
    result.conflict = s.message();
    return result;
  }
  if (!a.batch_conflict.empty()) {
    result.conflict = a.batch_conflict;
    return result;
  }
  for (const ValueInfo& out : g.outputs) {
    auto it = a.shapes.find(out.name);
    if (it == a.shapes.end() || it->second.empty() || !has_batch(it->second[0])) {
      result.conflict =
          "graph output '" + out.name + "' does not carry the batch in its first axis";
      return result;
    }
  }
  return result;
}

bool make_batch_symbolic(Model& model) {
  const FixedBatch fixed = analyze_fixed_batch(model);
  if (fixed.batch == 0 || !fixed.conflict.empty()) return false;
  Graph& g = model.graph;
  Analysis a(g);
  a.rebatch = fixed.batch;
  (void)a.run();  // analyze_fixed_batch ran it without an error
  for (const auto& [index, shape] : a.reshape_shapes) {
    Node& node = g.nodes[index];
    const std::string name = g.unique_name(node.inputs[1] + "_any_batch");
    g.initializers[name] = shape;
    node.inputs[1] = name;
  }
  std::set<std::string> read;
  for (const Node& node : g.nodes) read.insert(node.inputs.begin(), node.inputs.end());
  for (const ValueInfo& out : g.outputs) read.insert(out.name);
  std::erase_if(g.initializers, [&](const auto& entry) { return !read.count(entry.first); });
  for (ValueInfo& in : g.inputs)
    if (in.dims.size() >= 2) in.dims[0] = Dim::symbolic(kBatchSymbol);
  for (ValueInfo& out : g.outputs) {
    const SymInt& d = a.shapes.at(out.name)[0];
    if (!out.dims.empty()) out.dims[0] = Dim::symbolic(d.to_string());
  }
  g.value_infos.clear();  // annotations of the fixed batch
  return true;
}

std::map<std::string, std::vector<Dim>> infer_shapes(const Graph& graph) {
  Analysis a(graph);
  (void)a.run();  // a Reshape that cannot be folded only leaves its output unknown
  std::map<std::string, std::vector<Dim>> out;
  for (const auto& [name, shape] : a.shapes) out[name] = to_dims(shape);
  return out;
}

}  // namespace retort
