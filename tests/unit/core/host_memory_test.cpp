#include "retort/core/host_memory.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

namespace retort {
namespace {

bool all_zero(const std::byte* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != std::byte{0}) return false;
  return true;
}

TEST(HostMemory, SmallBuffersComeZeroedAndCacheLineAligned) {
  for (size_t bytes : {size_t{1}, size_t{100}, size_t{4096}, kHugePageBytes - 1}) {
    SCOPED_TRACE(bytes);
    auto p = allocate_zeroed(bytes);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p.get()) % 64, 0u);
    EXPECT_TRUE(all_zero(p.get(), bytes));
  }
}

TEST(HostMemory, LargeBuffersComeZeroedHugePageAlignedAndWritableToTheEnd) {
  for (size_t bytes : {kHugePageBytes, kHugePageBytes + 12345, 3 * kHugePageBytes}) {
    SCOPED_TRACE(bytes);
    auto p = allocate_zeroed(bytes);
    ASSERT_NE(p, nullptr);
#ifdef __linux__
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p.get()) % kHugePageBytes, 0u);
#endif
    EXPECT_TRUE(all_zero(p.get(), bytes));
    p[0] = std::byte{1};
    p[bytes - 1] = std::byte{2};
    EXPECT_EQ(p[bytes - 1], std::byte{2});
  }
}

#ifdef __linux__
// The mapping that holds `address`, as /proc/self/smaps describes it (empty when not found).
std::string smaps_entry_of(const void* address) {
  std::ifstream smaps("/proc/self/smaps");
  const auto a = reinterpret_cast<uintptr_t>(address);
  std::string line, entry;
  bool inside = false;
  while (std::getline(smaps, line)) {
    uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::istringstream header(line);
    if (header >> std::hex >> lo >> dash >> hi && dash == '-') {
      if (inside) return entry;
      inside = lo <= a && a < hi;
    }
    if (inside) entry += line + "\n";
  }
  return entry;
}

TEST(HostMemory, LargeBuffersAreAdvisedAsHugePages) {
  std::ifstream mode_file("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode;
  std::getline(mode_file, mode);
  if (mode.empty() || mode.find("[never]") != std::string::npos)
    GTEST_SKIP() << "transparent huge pages are off on this machine ('" << mode << "')";
  auto p = allocate_zeroed(4 * kHugePageBytes);
  const std::string entry = smaps_entry_of(p.get());
  ASSERT_FALSE(entry.empty()) << "no mapping holds the buffer";
  const size_t eligible = entry.find("THPeligible:");
  ASSERT_NE(eligible, std::string::npos) << entry;
  int value = -1;
  std::istringstream(entry.substr(eligible + std::string("THPeligible:").size())) >> value;
  EXPECT_EQ(value, 1) << entry;
  // madvise(MADV_HUGEPAGE) shows as the "hg" flag.
  EXPECT_NE(entry.find(" hg"), std::string::npos) << entry;
}
#endif

}  // namespace
}  // namespace retort
