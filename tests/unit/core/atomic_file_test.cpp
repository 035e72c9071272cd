#include "retort/core/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace retort {
namespace {

namespace fs = std::filesystem;

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("retort_atomic_file_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string read(const fs::path& p) const {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename());
    return names;
  }

  fs::path dir_;
};

// Writer w's contents: a size and a byte of its own, so a mixed or cut file is seen.
std::string contents_of(int w) {
  return std::string(static_cast<size_t>(1000 + 997 * w), static_cast<char>('a' + w));
}

TEST_F(AtomicFileTest, ThreadsWritingOnePathAllSucceedAndLeaveOneWholeFile) {
  const std::string path = (dir_ / "out.bin").string();
  constexpr int kThreads = 6, kRounds = 50;
  std::vector<std::vector<std::string>> errors(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int w = 0; w < kThreads; ++w) {
    threads.emplace_back([&, w] {
      for (int r = 0; r < kRounds; ++r)
        if (Status s = write_file_atomically(path, contents_of(w), /*sync=*/false); !s.ok())
          errors[w].push_back(s.message());
    });
  }
  for (std::thread& t : threads) t.join();
  for (int w = 0; w < kThreads; ++w)
    EXPECT_TRUE(errors[w].empty())
        << "writer " << w << ": " << errors[w].size() << " failures, first: " << errors[w].front();
  const std::string final_bytes = read(path);
  std::set<std::string> expected;
  for (int w = 0; w < kThreads; ++w) expected.insert(contents_of(w));
  EXPECT_TRUE(expected.count(final_bytes))
      << "a mixed or cut file of " << final_bytes.size() << " bytes";
  EXPECT_EQ(entries(), std::vector<std::string>{"out.bin"}) << "temporaries were left behind";
}

TEST_F(AtomicFileTest, ProcessesWritingOnePathAllSucceedAndLeaveOneWholeFile) {
  const std::string path = (dir_ / "out.bin").string();
  constexpr int kProcesses = 4, kRounds = 50;
  std::vector<pid_t> children;
  for (int w = 0; w < kProcesses; ++w) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int failures = 0;
      for (int r = 0; r < kRounds; ++r)
        failures += write_file_atomically(path, contents_of(w), /*sync=*/false).ok() ? 0 : 1;
      ::_exit(failures > 0 ? 1 : 0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "a writer process failed";
  }
  std::set<std::string> expected;
  for (int w = 0; w < kProcesses; ++w) expected.insert(contents_of(w));
  EXPECT_TRUE(expected.count(read(path)));
  EXPECT_EQ(entries(), std::vector<std::string>{"out.bin"}) << "temporaries were left behind";
}

TEST_F(AtomicFileTest, ReplacesAnOldFileAndFailsCleanlyOnAMissingFolder) {
  const fs::path path = dir_ / "f.txt";
  std::ofstream(path) << "old";
  ASSERT_TRUE(write_file_atomically(path.string(), "new").ok());
  EXPECT_EQ(read(path), "new");

  const std::string missing = (dir_ / "no" / "such" / "f.txt").string();
  Status s = write_file_atomically(missing, "x");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::kIo);
  EXPECT_NE(s.message().find("no/such/f.txt"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("No such file"), std::string::npos) << s.message();

  // A folder where the file should go: the rename fails and the temporary is removed.
  fs::create_directories(dir_ / "taken");
  s = write_file_atomically((dir_ / "taken").string(), "x");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot rename"), std::string::npos) << s.message();
  std::vector<std::string> names = entries();
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"f.txt", "taken"}));
}

}  // namespace
}  // namespace retort
