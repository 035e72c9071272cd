#include "retort/distill/student_init.h"

#include <cmath>

namespace retort::distill {
namespace {

struct Layer {
  std::string name;
  std::vector<std::string> tensors;  // initializer names: weights, bias, then BN's
};

bool weighted(const Node& node) {
  return node.op_type == "Conv" || node.op_type == "Gemm" || node.op_type == "MatMul";
}

std::vector<Layer> layers_of(const Model& model) {
  std::vector<Layer> layers;
  for (const Node& node : model.graph.nodes) {
    if (!weighted(node)) continue;
    Layer layer{node.name, {}};
    for (const std::string& in : node.inputs)
      if (model.graph.is_initializer(in)) layer.tensors.push_back(in);
    if (layer.tensors.empty()) continue;  // a MatMul of two activations
    // A BatchNormalization reading this layer's output belongs with it.
    for (const Node& next : model.graph.nodes)
      if (next.op_type == "BatchNormalization" && !next.inputs.empty() &&
          next.inputs[0] == node.outputs[0])
        for (size_t i = 1; i < next.inputs.size(); ++i)
          if (model.graph.is_initializer(next.inputs[i])) layer.tensors.push_back(next.inputs[i]);
    layers.push_back(std::move(layer));
  }
  return layers;
}

std::string shapes_of(const Model& model, const Layer& layer) {
  std::string s;
  for (const std::string& t : layer.tensors) {
    if (!s.empty()) s += ' ';
    s += shape_to_string(model.graph.initializers.at(t).shape());
  }
  return s;
}
}  // namespace

Expected<InitFromTeacher> init_student_from_teacher(Model& student, const Model& teacher) {
  const std::vector<Layer> s = layers_of(student), t = layers_of(teacher);
  if (s.empty() || t.empty())
    return make_error(ErrorCode::kInvalidArgument, "init from teacher: the ",
                      s.empty() ? "student" : "teacher",
                      " has no weighted layer (Conv, Gemm or MatMul with weights)");
  InitFromTeacher report;
  for (size_t i = 0; i < s.size(); ++i) {
    const size_t j = s.size() == 1
                         ? t.size() - 1
                         : static_cast<size_t>(std::lround(static_cast<double>(i) * (t.size() - 1) /
                                                           static_cast<double>(s.size() - 1)));
    bool same = s[i].tensors.size() == t[j].tensors.size();
    for (size_t k = 0; same && k < s[i].tensors.size(); ++k)
      same = student.graph.initializers.at(s[i].tensors[k]).shape() ==
             teacher.graph.initializers.at(t[j].tensors[k]).shape();
    if (!same) {
      report.skipped.push_back("student " + s[i].name + " [" + shapes_of(student, s[i]) +
                               "] vs teacher " + t[j].name + " [" + shapes_of(teacher, t[j]) + "]");
      continue;
    }
    for (size_t k = 0; k < s[i].tensors.size(); ++k)
      student.graph.initializers.at(s[i].tensors[k]) =
          teacher.graph.initializers.at(t[j].tensors[k]).clone();
    report.copied.push_back("student " + s[i].name + " <- teacher " + t[j].name);
  }
  if (report.copied.empty()) {
    std::string why;
    for (const std::string& line : report.skipped) why += "\n  " + line;
    return make_error(
        ErrorCode::kInvalidArgument,
        "init from teacher: no student layer has the shapes of the teacher layer it maps to; "
        "use \"init\": \"random\" or a student whose layers match (shapes below):",
        why);
  }
  return report;
}

}  // namespace retort::distill
