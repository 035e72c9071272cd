#include "retort/graph/input_convention.h"

#include <algorithm>

#include "nlohmann/json.hpp"

namespace retort {
namespace {

std::vector<float> per_channel(const std::vector<float>& v, int64_t c) {
  return v.size() == 1 ? std::vector<float>(static_cast<size_t>(c), v[0]) : v;
}

}  // namespace

void set_class_names(Model& model, const std::vector<std::string>& names) {
  if (names.empty()) {
    model.metadata.erase(kClassNamesKey);
  } else {
    model.metadata[kClassNamesKey] = nlohmann::json(names).dump();
  }
}

std::vector<std::string> class_names(const Model& model) {
  auto it = model.metadata.find(kClassNamesKey);
  if (it == model.metadata.end()) return {};
  const nlohmann::json names = nlohmann::json::parse(it->second, nullptr, false);
  if (!names.is_array()) return {};
  std::vector<std::string> out;
  for (const nlohmann::json& name : names) {
    if (!name.is_string()) return {};
    out.push_back(name.get<std::string>());
  }
  return out;
}

Status bake_input_convention(Model& model, int64_t c, int64_t h, int64_t w, float scale,
                             const std::vector<float>& mean, const std::vector<float>& std) {
  Graph& g = model.graph;
  if (g.inputs.size() != 1)
    return make_error(ErrorCode::kInvalidArgument, "the model has ", g.inputs.size(),
                      " runtime inputs; an image classifier takes exactly one");
  const ValueInfo original = g.inputs[0];
  const size_t rank = original.dims.size();
  auto fixed = [&](size_t i) { return original.dims[i].is_fixed() ? original.dims[i].value : -1; };
  const bool flat = rank == 2;
  if (flat && fixed(1) != -1 && fixed(1) != c * h * w)
    return make_error(ErrorCode::kInvalidArgument, "model input '", original.name, "' takes ",
                      fixed(1), " features per sample, the data has ", c, "x", h, "x", w, " = ",
                      c * h * w, " pixels");
  if (!flat && (rank != 4 || (fixed(1) != -1 && fixed(1) != c) ||
                (fixed(2) != -1 && fixed(2) != h) || (fixed(3) != -1 && fixed(3) != w)))
    return make_error(ErrorCode::kInvalidArgument, "model input '", original.name, "' must be [N, ",
                      c, ", ", h, ", ", w, "] or [N, ", c * h * w,
                      "] for this data; state the "
                      "right data in the recipe or re-export the model");
  for (const auto* v : {&mean, &std})
    if (v->size() != 1 && static_cast<int64_t>(v->size()) != c)
      return make_error(ErrorCode::kInvalidArgument, "mean/std need 1 or ", c, " values, got ",
                        v->size());

  const std::string raw = g.unique_name("input");
  std::string x = raw;
  size_t added = 0;
  auto add = [&](const std::string& op, const std::string& constant_name, Tensor constant) {
    const std::string name = g.unique_name("import." + op);
    const std::string out = name;
    Node n;
    n.name = name;
    n.op_type = op;
    n.inputs = {x};
    if (!constant_name.empty()) {
      g.initializers[constant_name] = std::move(constant);
      n.inputs.push_back(constant_name);
    }
    n.outputs = {out};
    g.nodes.push_back(n);  // keeps unique_name() aware of the new names
    ++added;
    x = out;
  };
  const std::vector<float> m = per_channel(mean, c), s = per_channel(std, c);
  std::vector<std::string> constants;
  if (scale != 1.0f) {
    add("Mul", "import.scale", Tensor::from_vector<float>({}, {scale}));
    constants.push_back("import.scale");
  }
  if (std::any_of(m.begin(), m.end(), [](float v) { return v != 0.0f; })) {
    add("Sub", "import.mean", Tensor::from_vector<float>({1, c, 1, 1}, m));
    constants.push_back("import.mean");
  }
  if (std::any_of(s.begin(), s.end(), [](float v) { return v != 1.0f; })) {
    add("Div", "import.std", Tensor::from_vector<float>({1, c, 1, 1}, s));
    constants.push_back("import.std");
  }
  if (flat) {
    add("Flatten", "", {});
    g.nodes.back().attributes["axis"] = Attribute::of_int(1);
  }
  // The last prefix node writes the model's original input value.
  if (added == 0) add("Identity", "", {});
  g.nodes.back().outputs = {original.name};

  ValueInfo in{raw,
               DType::kFloat32,
               {original.dims.empty() ? Dim::symbolic("N") : original.dims[0], Dim::fixed(c),
                Dim::fixed(h), Dim::fixed(w)}};
  g.inputs = {in};
  model.add_listed(kConstantsKey, constants);
  model.metadata[kInputConventionKey] = kRawPixelsConvention;
  return g.sort_topologically();
}

}  // namespace retort
