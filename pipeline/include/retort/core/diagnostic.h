// One problem found in user-written JSON (a recipe, a stage's params), located by JSON pointer
// (or line and column for syntax).
#pragma once

#include <string>
#include <vector>

namespace retort {

// Where (a JSON pointer such as "/stages/3/params/temperature", or "line 4, column 7" for a
// syntax error, or "" for the file as a whole) and what is wrong and how to fix it.
struct Diagnostic {
  std::string where;
  std::string message;

  // "recipe.json: /stages/3/params/t: expected ..."; `file` or `where` may be empty.
  std::string format(const std::string& file) const;
};

// Every diagnostic formatted, one per line.
std::string format_diagnostics(const std::vector<Diagnostic>& problems, const std::string& file);

}  // namespace retort
