#include "retort/core/diagnostic.h"

namespace retort {

std::string Diagnostic::format(const std::string& file) const {
  std::string out = file;
  if (!where.empty()) out += (out.empty() ? "" : ": ") + where;
  out += (out.empty() ? "" : ": ") + message;
  return out;
}

std::string format_diagnostics(const std::vector<Diagnostic>& problems, const std::string& file) {
  std::string out;
  for (const Diagnostic& d : problems) out += d.format(file) + "\n";
  return out;
}

}  // namespace retort
