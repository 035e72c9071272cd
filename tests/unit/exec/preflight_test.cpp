// check_stages' scratch folder in the system temp folder: removed after the checks, after a
// stop request, and, for processes that died without removing theirs, by a later call.
#include "retort/exec/preflight.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "exec_test_support.h"

namespace retort::exec {
namespace {

namespace fs = std::filesystem;
using testing::make_recipe;
using testing::stage;
using testing::TempDir;

// TMPDIR pointed at a folder of the test's for the scope.
class TmpdirScope {
 public:
  explicit TmpdirScope(const std::string& dir) {
    if (const char* old = std::getenv("TMPDIR")) old_ = old;
    ::setenv("TMPDIR", dir.c_str(), 1);
  }
  ~TmpdirScope() {
    if (old_)
      ::setenv("TMPDIR", old_->c_str(), 1);
    else
      ::unsetenv("TMPDIR");
  }
  TmpdirScope(const TmpdirScope&) = delete;
  TmpdirScope& operator=(const TmpdirScope&) = delete;

 private:
  std::optional<std::string> old_;
};

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

// The pid of a process that has ended.
pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

TEST(Preflight, ChecksLeaveNoScratchFolderAndRemoveThoseOfDeadProcesses) {
  TempDir tmp;
  const TmpdirScope scope(tmp.path());
  const auto hour_ago = fs::file_time_type::clock::now() - std::chrono::hours(1);
  const std::string dead = "retort-check-" + std::to_string(dead_pid()) + "-";
  const std::string alive = "retort-check-" + std::to_string(::getpid()) + "-";
  for (const std::string& name :
       {dead + "old111", dead + "new222", alive + "old333", std::string("retort-check-other")}) {
    fs::create_directories(tmp.path(name) + "/stage");
    testing::write_text(tmp.path(name) + "/stage/model.onnx", "copy");
    if (name.find("old") != std::string::npos) fs::last_write_time(tmp.path(name), hour_ago);
  }

  const plugin::StageRegistry registry = testing::test_registry();
  auto problems = check_stages(make_recipe({stage("a", "make")}), registry);
  EXPECT_TRUE(problems.empty()) << problems.front().message;
  // Killed an hour ago: gone. Too young to tell, this process's own, not a pid: kept.
  std::vector<std::string> kept = {dead + "new222", alive + "old333", "retort-check-other"};
  std::sort(kept.begin(), kept.end());
  EXPECT_EQ(entries(tmp.path()), kept);
}

TEST(Preflight, AStopRequestEndsTheChecksAndRemovesTheirFolder) {
  TempDir tmp;
  const TmpdirScope scope(tmp.path());
  const plugin::StageRegistry registry = testing::test_registry();
  request_cancel();
  auto problems = check_stages(make_recipe({stage("a", "make"), stage("b", "make")}), registry);
  const bool still_requested = cancel_requested();
  clear_cancel();
  EXPECT_TRUE(still_requested) << "the checks must leave the request for the caller to report";
  EXPECT_TRUE(problems.empty());
  EXPECT_TRUE(entries(tmp.path()).empty());
}

}  // namespace
}  // namespace retort::exec
