#include "retort/exec/content_hash.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "exec_test_support.h"

namespace retort::exec {
namespace {

std::string sample(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + 7) % 251);
  return s;
}

TEST(ContentHash, StreamingInAnySplitMatchesOneShot) {
  const std::string data = sample(1000);
  const uint64_t whole = hash_bytes(data);
  for (size_t split : {0, 1, 7, 31, 32, 33, 64, 500, 999, 1000}) {
    ContentHasher h;
    h.update(std::string_view(data).substr(0, split));
    h.update(std::string_view(data).substr(split));
    EXPECT_EQ(h.digest(), whole) << "split at " << split;
  }
  ContentHasher bytewise;
  for (char c : data) bytewise.update(&c, 1);
  EXPECT_EQ(bytewise.digest(), whole);
}

TEST(ContentHash, DistinguishesContentLengthAndTrailingZeros) {
  std::set<uint64_t> seen;
  // Every prefix of a sample (tails of every length, zero bytes included) hashes differently.
  const std::string data = sample(200) + std::string(70, '\0');
  for (size_t n = 0; n <= data.size(); ++n)
    seen.insert(hash_bytes(std::string_view(data).substr(0, n)));
  EXPECT_EQ(seen.size(), data.size() + 1);
  // One flipped bit anywhere changes the hash.
  std::string flipped = data;
  for (size_t i = 0; i < flipped.size(); i += 37) {
    flipped[i] ^= 1;
    EXPECT_NE(hash_bytes(flipped), hash_bytes(data)) << "bit flip at " << i;
    flipped[i] ^= 1;
  }
}

TEST(ContentHash, FileHashEqualsBytesHashAndNamesMissingFile) {
  testing::TempDir dir;
  const std::string data = sample(3 << 20);  // several read chunks
  testing::write_text(dir.path("blob"), data);
  Expected<uint64_t> h = hash_file(dir.path("blob"));
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_EQ(*h, hash_bytes(data));

  Expected<uint64_t> missing = hash_file(dir.path("nope"));
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(
      testing::contains(missing.status().message(), "cannot open '" + dir.path("nope") + "'"));
}

TEST(ContentHash, HexIsSixteenLowercaseDigits) {
  EXPECT_EQ(hash_hex(0), "0000000000000000");
  EXPECT_EQ(hash_hex(0xABCDEF0123456789ull), "abcdef0123456789");
}

}  // namespace
}  // namespace retort::exec
