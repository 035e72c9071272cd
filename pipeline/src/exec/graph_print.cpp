// graph_text and graph_dot: the recipe's DAG for `retort graph`.
#include <set>
#include <sstream>

#include "retort/exec/executor.h"

namespace retort::exec {
namespace {

// Text for inside a DOT double-quoted string.
std::string dot_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string dot_quote(const std::string& text) {
  std::string out = "\"";
  return out.append(dot_escape(text)).append("\"");
}

std::string ref_list(const std::vector<recipe::InputRef>& refs) {
  std::string out;
  for (const recipe::InputRef& r : refs) out += (out.empty() ? "" : ", ") + r.text;
  return refs.size() > 1 ? "[" + out + "]" : out;
}

}  // namespace

std::string graph_text(const recipe::Recipe& recipe) {
  std::ostringstream out;
  for (const recipe::StageSpec& s : recipe.stages) {
    out << s.id << " (" << s.type << ")\n";
    for (const auto& [port, refs] : s.inputs)
      out << "  " << port << " <- " << ref_list(refs) << "\n";
  }
  return out.str();
}

std::string graph_dot(const recipe::Recipe& recipe) {
  std::ostringstream out;
  out << "digraph " << dot_quote(recipe.name.empty() ? "recipe" : recipe.name) << " {\n";
  out << "  rankdir=LR;\n  node [shape=box];\n";
  std::set<std::string> models;
  for (const recipe::StageSpec& s : recipe.stages) {
    for (const auto& [port, refs] : s.inputs) {
      for (const recipe::InputRef& r : refs) {
        if (r.stage.empty()) models.insert(r.model);
      }
    }
  }
  for (const std::string& m : models) {
    out << "  " << dot_quote("models." + m) << " [shape=ellipse, label=" << dot_quote("models." + m)
        << "];\n";
  }
  for (const recipe::StageSpec& s : recipe.stages) {
    // "\n" is DOT's line break inside a label.
    out << "  " << dot_quote(s.id) << " [label=\"" << dot_escape(s.id) << "\\n"
        << dot_escape(s.type) << "\"];\n";
  }
  for (const recipe::StageSpec& s : recipe.stages) {
    for (const auto& [port, refs] : s.inputs) {
      for (const recipe::InputRef& r : refs) {
        const std::string from = r.stage.empty() ? "models." + r.model : r.stage;
        out << "  " << dot_quote(from) << " -> " << dot_quote(s.id) << " [label=" << dot_quote(port)
            << "];\n";
      }
    }
  }
  out << "}\n";
  return out.str();
}

}  // namespace retort::exec
