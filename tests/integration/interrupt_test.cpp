// Stopping `retort run` with SIGINT at any moment, validation and the stage checks included:
// the process ends promptly with a non-zero code and leaves nothing in the temp folder (the
// checks' scratch folder used to stay there, a model copy in it, when the signal came first).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli_support.h"
#include "nlohmann/json.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using retort::cli_testing::read_bytes;
using Clock = std::chrono::steady_clock;

// How a child process ended.
struct Ending {
  bool exited = false;  // else killed by `signal`
  int code = -1;
  int signal = 0;
};

class Interrupt : public retort::cli_testing::TempDirTest {
 protected:
  // A recipe whose checks copy a CNN (about 3 MB) into their scratch folder, and whose run
  // trains long enough never to finish within the test's signals.
  std::string recipe() {
    return write("run.json", {{"version", 1},
                              {"seed", 1},
                              {"data", {{"train_size", 3000}, {"test_size", 500}}},
                              {"models", {{"cnn", {{"arch", "cnn"}}}}},
                              {"stages",
                               {{{"id", "teacher"},
                                 {"type", "train"},
                                 {"inputs", {{"model", "models.cnn"}}},
                                 {"params", {{"epochs", 50}, {"batch", 64}}}},
                                {{"id", "evaluate"},
                                 {"type", "evaluate"},
                                 {"inputs", {{"models", {"teacher.model"}}}},
                                 {"params", {{"speed", false}}}}}}});
  }

  // `retort run RECIPE --out OUT` with TMPDIR set to `tmp`, output to `log`.
  pid_t start(const std::string& recipe_path, const fs::path& out, const fs::path& tmp,
              const fs::path& log) {
    std::vector<std::string> env = {"TMPDIR=" + tmp.string(), "OMP_WAIT_POLICY=passive"};
    env.reserve(64);
    for (char** e = environ; *e != nullptr; ++e)
      if (std::strncmp(*e, "TMPDIR=", 7) != 0 && std::strncmp(*e, "OMP_WAIT_POLICY=", 16) != 0)
        env.emplace_back(*e);
    std::vector<char*> envp;
    envp.reserve(env.size() + 1);
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = {RETORT_CLI, "run", recipe_path, "--out", out.string()};
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execve(RETORT_CLI, argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(fd);
    return pid;
  }

  // Waits for the child; after two minutes (it hangs) kills it and reports nullopt.
  static std::optional<Ending> wait_for(pid_t pid) {
    const auto deadline = Clock::now() + std::chrono::minutes(2);
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return std::nullopt;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    Ending e;
    e.exited = WIFEXITED(status);
    e.code = e.exited ? WEXITSTATUS(status) : -1;
    e.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return e;
  }

  static std::vector<std::string> entries(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename());
    return names;
  }

  // Waits until the stage checks' scratch folder exists in `tmp` (the checks are under way).
  static bool checks_under_way(const fs::path& tmp, pid_t pid) {
    const auto deadline = Clock::now() + std::chrono::minutes(1);
    while (Clock::now() < deadline) {
      for (const std::string& name : entries(tmp))
        if (name.rfind("retort-check-", 0) == 0) return true;
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) != 0) return false;  // ended before its checks
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return false;
  }

  fs::path fresh(const std::string& name) {
    fs::path p = dir_ / name;
    fs::remove_all(p);
    fs::create_directories(p);
    return p;
  }
};

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += n + " ";
  return out;
}

TEST_F(Interrupt, SigintDuringTheFirstSecondLeavesNoTempFolderAndExitsNonZero) {
  const std::string path = recipe();
  for (int delay_ms : {0, 20, 50, 100, 150, 200, 300, 400, 500, 700, 1000}) {
    SCOPED_TRACE("SIGINT after " + std::to_string(delay_ms) + " ms");
    const fs::path tmp = fresh("tmp"), out = dir_ / "out", log = dir_ / "log.txt";
    fs::remove_all(out);
    const pid_t pid = start(path, out, tmp, log);
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(pid, SIGINT);
    const std::optional<Ending> end = wait_for(pid);
    const std::string said = read_bytes(log);
    ASSERT_TRUE(end) << "still running two minutes after SIGINT:\n" << said;
    EXPECT_TRUE(entries(tmp).empty()) << "left in TMPDIR: " << joined(entries(tmp));
    if (end->exited) {
      EXPECT_EQ(end->code, 1) << said;
      EXPECT_NE(said.find("interrupted"), std::string::npos) << said;
      if (said.find("before any stage ran") != std::string::npos) {
        EXPECT_FALSE(fs::exists(out)) << "the run folder was touched before any stage ran";
      }
    } else {
      // Only a signal before main() installed the handlers may end the process this way.
      EXPECT_EQ(end->signal, SIGINT);
      EXPECT_EQ(said, "") << "killed by the signal after it started working";
    }
  }
}

TEST_F(Interrupt, SigintDuringTheStageChecksEndsThemCleanly) {
  const std::string path = recipe();
  const fs::path tmp = fresh("tmp"), out = dir_ / "out", log = dir_ / "log.txt";
  const pid_t pid = start(path, out, tmp, log);
  ASSERT_GT(pid, 0);
  const bool seen = checks_under_way(tmp, pid);
  ::kill(pid, SIGINT);
  const std::optional<Ending> end = wait_for(pid);
  const std::string said = read_bytes(log);
  ASSERT_TRUE(seen) << "the checks' scratch folder never appeared in TMPDIR:\n" << said;
  ASSERT_TRUE(end) << "still running two minutes after SIGINT:\n" << said;
  ASSERT_TRUE(end->exited) << "killed by signal " << end->signal << ":\n" << said;
  EXPECT_EQ(end->code, 1) << said;
  EXPECT_NE(said.find("retort: interrupted while validating the recipe, before any stage ran"),
            std::string::npos)
      << said;
  EXPECT_TRUE(entries(tmp).empty()) << "left in TMPDIR: " << joined(entries(tmp));
  EXPECT_FALSE(fs::exists(out)) << "the run folder was created before any stage ran";
}

TEST_F(Interrupt, SecondSigintStillEndsTheProcessAndLeavesNoTempFolder) {
  const std::string path = recipe();
  for (int gap_ms : {0, 1, 5}) {
    SCOPED_TRACE("second SIGINT " + std::to_string(gap_ms) + " ms after the first");
    const fs::path tmp = fresh("tmp"), out = dir_ / "out", log = dir_ / "log.txt";
    fs::remove_all(out);
    const pid_t pid = start(path, out, tmp, log);
    ASSERT_GT(pid, 0);
    const bool seen = checks_under_way(tmp, pid);
    ::kill(pid, SIGINT);
    std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms));
    ::kill(pid, SIGINT);
    const std::optional<Ending> end = wait_for(pid);
    const std::string said = read_bytes(log);
    ASSERT_TRUE(seen) << said;
    ASSERT_TRUE(end) << "still running two minutes after two SIGINTs:\n" << said;
    // Killed by the second signal, or already on its way out after the first.
    if (end->exited) {
      EXPECT_EQ(end->code, 1) << said;
    } else {
      EXPECT_EQ(end->signal, SIGINT);
    }
    EXPECT_TRUE(entries(tmp).empty()) << "left in TMPDIR: " << joined(entries(tmp));
  }
}

}  // namespace
