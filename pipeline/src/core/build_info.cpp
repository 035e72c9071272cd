#include "retort/core/build_info.h"

namespace retort {

std::string_view version() {
  return RETORT_VERSION;
}

std::string describe_build(std::string_view version, std::string_view commit) {
  std::string text(version);
  if (!commit.empty() && commit != "unknown") text.append(" (commit ").append(commit).append(")");
  return text;
}

std::string build_description() {
  return describe_build(version(), build_commit());
}

}  // namespace retort
