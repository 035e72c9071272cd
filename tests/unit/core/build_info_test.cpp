#include "retort/core/build_info.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>

namespace retort {
namespace {

// `git rev-parse --short=12 HEAD` in the source checkout, or "" without git or when the
// sources are not the top of a checkout (as cmake/write_build_info.cmake decides).
std::string checkout_head() {
  const std::string source =
      std::filesystem::path(RETORT_TEST_DATA_DIR).parent_path().parent_path();
  const std::string command = "cd '" + source +
                              "' 2>/dev/null && [ \"$(git rev-parse --show-toplevel 2>/dev/null)\" "
                              "= \"$(pwd -P)\" ] && git rev-parse --short=12 HEAD 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  char line[64] = {};
  const bool read = std::fgets(line, sizeof line, pipe) != nullptr;
  const int status = pclose(pipe);
  std::string head = read && status == 0 ? line : "";
  while (!head.empty() && (head.back() == '\n' || head.back() == '\r')) head.pop_back();
  return head;
}

TEST(BuildInfo, VersionIsTheProjectVersion) {
  EXPECT_EQ(version(), RETORT_VERSION);
  EXPECT_TRUE(std::regex_match(std::string(version()), std::regex(R"(\d+\.\d+\.\d+)")))
      << version();
}

TEST(BuildInfo, CommitIsTwelveHexDigitsOrUnknown) {
  const std::string commit(build_commit());
  EXPECT_TRUE(std::regex_match(commit, std::regex("[0-9a-f]{12}(-dirty)?|unknown"))) << commit;
  const std::string description = build_description();
  if (commit == "unknown")
    EXPECT_EQ(description, std::string(version()));
  else
    EXPECT_EQ(description, std::string(version()) + " (commit " + commit + ")");
  // A recorded build: no commit, or an unknown one, is the version alone.
  EXPECT_EQ(describe_build("1.2.3", "0123456789ab-dirty"), "1.2.3 (commit 0123456789ab-dirty)");
  EXPECT_EQ(describe_build("1.2.3", "unknown"), "1.2.3");
  EXPECT_EQ(describe_build("1.2.3", ""), "1.2.3");
}

// The generated file reads the checkout the build came from (re-read at every build, so a
// build after a commit carries the new one).
TEST(BuildInfo, CommitIsTheCheckoutsHead) {
  const std::string head = checkout_head();
  if (head.empty()) GTEST_SKIP() << "no git checkout to compare with";
  EXPECT_EQ(std::string(build_commit()).substr(0, 12), head)
      << "rebuild: this test binary was built from another commit";
}

}  // namespace
}  // namespace retort
