#include "retort/core/build_info.h"

namespace retort {

std::string_view version() {
  return RETORT_VERSION;
}

std::string build_description() {
  const std::string_view commit = build_commit();
  std::string text(version());
  if (commit != "unknown") text.append(" (commit ").append(commit).append(")");
  return text;
}

}  // namespace retort
