#include "retort/data/idx.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "test_support.h"

namespace retort::data {
namespace {

using ::retort::data::testing::contains;
using ::retort::data::testing::TempDir;

// A hand-written uint8 IDX file: magic, dims (big-endian), then `data_bytes` payload bytes.
std::vector<unsigned char> idx_bytes(uint32_t magic, const std::vector<uint32_t>& dims,
                                     size_t data_bytes) {
  std::vector<unsigned char> out;
  auto be32 = [&](uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
      out.push_back(static_cast<unsigned char>(v >> shift));
  };
  be32(magic);
  for (uint32_t d : dims) be32(d);
  for (size_t i = 0; i < data_bytes; ++i) out.push_back(static_cast<unsigned char>(i * 7));
  return out;
}

TEST(Idx, ReadsHandWrittenBigEndianHeader) {
  TempDir dir;
  const std::string path = dir.write("images.idx", idx_bytes(0x00000803, {2, 3, 4}, 24));
  Expected<Tensor> t = read_idx(path);
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->dtype(), DType::kUInt8);
  EXPECT_EQ(t->shape(), (Shape{2, 3, 4}));
  for (int i = 0; i < 24; ++i) EXPECT_EQ(t->data<uint8_t>()[i], static_cast<uint8_t>(i * 7));
}

TEST(Idx, WritesBigEndianAndRoundTripsPlainAndGzip) {
  TempDir dir;
  Tensor bytes = Tensor::from_vector<uint8_t>({2, 3}, {0, 1, 2, 253, 254, 255});
  ASSERT_TRUE(write_idx(dir.file("u8.idx"), bytes).ok());
  EXPECT_EQ(
      TempDir::read(dir.file("u8.idx")),
      (std::vector<unsigned char>{0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 1, 2, 253, 254, 255}));

  Tensor ints = Tensor::from_vector<int32_t>({3}, {-2, 0x01020304, 7});
  Tensor floats = Tensor::from_vector<float>({2, 2}, {0.5f, -1.25f, 3e8f, 0.0f});
  for (const char* suffix : {".idx", ".idx.gz"}) {
    for (const Tensor* original : {&bytes, &ints, &floats}) {
      const std::string path = dir.file(std::string("t_") + dtype_name(original->dtype()) + suffix);
      ASSERT_TRUE(write_idx(path, *original).ok());
      Expected<Tensor> back = read_idx(path);
      ASSERT_TRUE(back.ok()) << back.status().message();
      EXPECT_EQ(back->dtype(), original->dtype());
      EXPECT_EQ(back->shape(), original->shape());
      EXPECT_EQ(std::memcmp(back->raw(), original->raw(), original->nbytes()), 0) << path;
    }
  }
  // int32 is stored big-endian: 0x01020304 appears as 01 02 03 04 after the 8-byte header.
  const auto raw = TempDir::read(dir.file("t_int32.idx"));
  ASSERT_EQ(raw.size(), 8u + 12u);
  EXPECT_EQ(raw[2], 0x0C);
  EXPECT_EQ((std::vector<unsigned char>(raw.begin() + 12, raw.begin() + 16)),
            (std::vector<unsigned char>{1, 2, 3, 4}));
  // The gzip'd file really is compressed (gzip magic 1F 8B).
  const auto gz = TempDir::read(dir.file("t_int32.idx.gz"));
  ASSERT_GE(gz.size(), 2u);
  EXPECT_EQ(gz[0], 0x1F);
  EXPECT_EQ(gz[1], 0x8B);
}

TEST(Idx, MissingFileIsNotFoundAndNamesIt) {
  TempDir dir;
  const std::string path = dir.file("no-such-labels.idx.gz");
  Expected<Tensor> t = read_idx(path);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(contains(t.status().message(), path));
  EXPECT_TRUE(contains(t.status().message(), "no such file"));
}

TEST(Idx, TruncatedFileSaysExpectedAndActualSize) {
  TempDir dir;
  // Declares 3x4x4 = 48 data bytes after a 16-byte header, holds only 10.
  const std::string path = dir.write("short.idx", idx_bytes(0x00000803, {3, 4, 4}, 10));
  Expected<Tensor> t = read_idx(path);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), ErrorCode::kParse);
  const std::string& m = t.status().message();
  EXPECT_TRUE(contains(m, path));
  EXPECT_TRUE(contains(m, "truncated"));
  EXPECT_TRUE(contains(m, "expected 64 bytes"));
  EXPECT_TRUE(contains(m, "got 26"));
  EXPECT_TRUE(contains(m, "[3, 4, 4]"));

  // Cut inside the header.
  const std::string head = dir.write("head.idx", {0, 0, 8, 3, 0, 0});
  t = read_idx(head);
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(contains(t.status().message(), "expected 16 bytes"));
  EXPECT_TRUE(contains(t.status().message(), "got 6"));
}

TEST(Idx, TruncatedGzipStreamIsReported) {
  TempDir dir;
  Tensor big(DType::kUInt8, {64, 64});
  for (int64_t i = 0; i < big.numel(); ++i)
    big.data<uint8_t>()[i] = static_cast<uint8_t>(i * 131 % 251);
  const std::string whole = dir.file("whole.idx.gz");
  ASSERT_TRUE(write_idx(whole, big).ok());
  auto bytes = TempDir::read(whole);
  bytes.resize(bytes.size() / 2);
  const std::string path = dir.write("cut.idx.gz", bytes);
  Expected<Tensor> t = read_idx(path);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), ErrorCode::kParse);
  EXPECT_TRUE(contains(t.status().message(), path));
  EXPECT_TRUE(contains(t.status().message(), "truncated"));
  EXPECT_TRUE(contains(t.status().message(), "expected 4108 bytes"));
}

// Headers whose dims claim far more than the file holds used to be allocated before any data
// was read: 2^40 elements with 10 bytes of data aborted with std::bad_alloc.
TEST(Idx, HeaderClaimingMoreThanAPlainFileHoldsFailsBeforeAllocating) {
  TempDir dir;
  const std::string path =
      dir.write("huge.idx", idx_bytes(0x00000803, {1u << 20, 1u << 10, 1u << 10}, 10));
  Expected<Tensor> t = read_idx(path);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), ErrorCode::kParse);
  const std::string& m = t.status().message();
  EXPECT_TRUE(contains(m, path));
  EXPECT_TRUE(contains(m, "truncated"));
  EXPECT_TRUE(contains(m, "expected 1099511627792 bytes"));
  EXPECT_TRUE(contains(m, "got 26"));
  EXPECT_TRUE(contains(m, "[1048576, 1024, 1024]"));
  // The streaming reader (the dataset loader's) refuses it when opened.
  EXPECT_FALSE(IdxReader::open(path, {}).ok());
}

TEST(Idx, HeaderClaimingMoreThanAGzipFileCanHoldFailsBeforeAllocating) {
  TempDir dir;
  // A header that claims 2^40 elements and 4 bytes of data, gzip'd: a file of a few dozen
  // bytes, which deflate's 1032:1 limit lets hold a few dozen KiB at most.
  const auto bytes = idx_bytes(0x00000803, {1u << 20, 1u << 10, 1u << 10}, 4);
  const std::string gz = dir.file("claim.idx.gz");
  {
    gzFile f = gzopen(gz.c_str(), "wb9");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
    ASSERT_EQ(gzclose(f), Z_OK);
  }
  Expected<Tensor> t = read_idx(gz);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), ErrorCode::kParse);
  const std::string& m = t.status().message();
  EXPECT_TRUE(contains(m, gz));
  EXPECT_TRUE(contains(m, "uint8 [1048576, 1024, 1024]"));
  EXPECT_TRUE(contains(m, "-byte gzip file can hold"));
  EXPECT_TRUE(contains(m, "1032:1"));
}

TEST(Idx, WrongMagicSaysFoundAndExpected) {
  TempDir dir;
  const std::string path = dir.write("archive.zip", {'P', 'K', 3, 4, 0, 0, 0, 0, 1, 2, 3});
  Expected<Tensor> t = read_idx(path);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), ErrorCode::kParse);
  const std::string& m = t.status().message();
  EXPECT_TRUE(contains(m, path));
  EXPECT_TRUE(contains(m, "wrong magic number 0x504B0304"));
  EXPECT_TRUE(contains(m, "0x00000803"));
}

TEST(Idx, MagicOutsideTheAcceptedListSaysBoth) {
  TempDir dir;
  const std::string path = dir.write("images.idx", idx_bytes(0x00000803, {1, 2, 2}, 4));
  Expected<Tensor> t = read_idx(path, {idx_magic(IdxType::kUInt8, 1)});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), ErrorCode::kParse);
  EXPECT_TRUE(contains(t.status().message(), path));
  EXPECT_TRUE(contains(t.status().message(), "found 0x00000803 (uint8, 3 dims)"));
  EXPECT_TRUE(contains(t.status().message(), "expected 0x00000801 (uint8, 1 dim)"));
  EXPECT_TRUE(read_idx(path, {0x00000801, 0x00000803}).ok());
}

TEST(Idx, UnsupportedElementTypeIsNamed) {
  TempDir dir;
  const std::string path = dir.write("doubles.idx", idx_bytes(0x00000E01, {2}, 16));
  Expected<Tensor> t = read_idx(path);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), ErrorCode::kUnsupported);
  EXPECT_TRUE(contains(t.status().message(), path));
  EXPECT_TRUE(contains(t.status().message(), "0x0E (float64)"));
}

TEST(Idx, CorruptGzipIsReported) {
  TempDir dir;
  Tensor big(DType::kUInt8, {128, 128});
  for (int64_t i = 0; i < big.numel(); ++i)
    big.data<uint8_t>()[i] = static_cast<uint8_t>(i * i % 253);
  const std::string good = dir.file("good.idx.gz");
  ASSERT_TRUE(write_idx(good, big).ok());
  auto bytes = TempDir::read(good);
  ASSERT_GT(bytes.size(), 200u);
  for (size_t i = 40; i < 60; ++i) bytes[i] ^= 0xA5;  // inside the deflate stream
  const std::string path = dir.write("bad.idx.gz", bytes);
  Expected<Tensor> t = read_idx(path);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), ErrorCode::kParse);
  EXPECT_TRUE(contains(t.status().message(), path));
  EXPECT_TRUE(contains(t.status().message(), "gzip data is corrupt"));
}

TEST(Idx, TrailingBytesMeanTheHeaderIsWrong) {
  TempDir dir;
  const std::string path = dir.write("long.idx", idx_bytes(0x00000801, {4}, 6));
  Expected<Tensor> t = read_idx(path);
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(contains(t.status().message(), "2 unexpected bytes after the data"));
}

TEST(Idx, ReaderStreamsInChunksInHostOrder) {
  TempDir dir;
  std::vector<int32_t> values(15);
  for (int i = 0; i < 15; ++i) values[i] = (i - 7) * 0x01010101;
  ASSERT_TRUE(write_idx(dir.file("ints.gz"), Tensor::from_vector<int32_t>({5, 3}, values)).ok());
  Expected<IdxReader> reader = IdxReader::open(dir.file("ints.gz"));
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  EXPECT_EQ(reader->magic(), 0x00000C02u);
  EXPECT_EQ(reader->dtype(), DType::kInt32);
  EXPECT_EQ(reader->shape(), (Shape{5, 3}));
  std::vector<int32_t> got(15);
  ASSERT_TRUE(reader->read(got.data(), 4).ok());
  EXPECT_TRUE(contains(reader->finish().message(), "finish() after reading 16 of the 60"));
  ASSERT_TRUE(reader->read(got.data() + 4, 11).ok());
  EXPECT_EQ(got, values);
  EXPECT_TRUE(contains(reader->read(got.data(), 1).message(), "cannot read 1 more elements"));
  EXPECT_TRUE(reader->finish().ok());
}

TEST(Idx, DescribesMagicNumbers) {
  EXPECT_EQ(idx_magic(IdxType::kUInt8, 3), 0x00000803u);
  EXPECT_EQ(describe_idx_magic(0x00000801), "0x00000801 (uint8, 1 dim)");
  EXPECT_EQ(describe_idx_magic(0x00000D04), "0x00000D04 (float32, 4 dims)");
  EXPECT_EQ(describe_idx_magic(0x1F8B0808), "0x1F8B0808 (not an IDX magic number)");
}

}  // namespace
}  // namespace retort::data
