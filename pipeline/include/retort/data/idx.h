// IDX files, the format of MNIST and Fashion-MNIST: a big-endian header, then the elements
// row-major. The header is the magic number 0x0000TTDD (TT: element type code, DD: number of
// dimensions) followed by DD big-endian uint32 sizes. Files may be gzip-compressed or plain;
// the reader tells them apart by content, not by name.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "retort/core/status.h"
#include "retort/core/tensor.h"

namespace retort::data {

// IDX element type codes (the TT byte of the magic number).
enum class IdxType : uint8_t {
  kUInt8 = 0x08,
  kInt8 = 0x09,
  kInt16 = 0x0B,
  kInt32 = 0x0C,
  kFloat32 = 0x0D,
  kFloat64 = 0x0E,
};

// The magic number of an IDX file holding `rank` dimensions of `type`:
// idx_magic(IdxType::kUInt8, 3) == 0x00000803 (MNIST images), rank 1 gives 0x00000801 (labels).
constexpr uint32_t idx_magic(IdxType type, int rank) {
  return (static_cast<uint32_t>(type) << 8) | static_cast<uint32_t>(rank & 0xFF);
}

// "0x00000803 (uint8, 3 dims)"; "0x1F8B0808 (not an IDX magic number)" when it cannot be one.
std::string describe_idx_magic(uint32_t magic);

// Streams an IDX file: open() reads and checks the header, read() delivers the elements in
// order (host byte order) in chunks of any size, finish() checks that the file ends where the
// header says. Lets callers convert large files chunk by chunk without a second full copy.
class IdxReader {
 public:
  // Fails like read_idx below on a missing file, wrong magic or unsupported type; with
  // `accepted` non-empty the magic number must be one of them.
  static Expected<IdxReader> open(const std::string& path,
                                  const std::vector<uint32_t>& accepted = {});
  IdxReader(IdxReader&&) noexcept;
  IdxReader& operator=(IdxReader&&) noexcept;
  ~IdxReader();

  const std::string& path() const;
  uint32_t magic() const;
  DType dtype() const;
  const Shape& shape() const;
  int64_t numel() const;

  // Reads the next `count` elements into `dst` (dtype_size(dtype()) * count bytes). Fails with
  // kParse naming the expected and actual sizes when the file ends early.
  Status read(void* dst, int64_t count);
  // After all elements are read: fails when bytes remain or the gzip trailer is bad.
  Status finish();

 private:
  struct State;
  explicit IdxReader(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Reads an IDX file (gzip or plain) into a tensor of the header's dims. uint8, int8, int32 and
// float32 elements are supported (int16 and float64 files fail with kUnsupported).
// Errors name the file: kNotFound (missing), kParse (wrong magic, truncated, trailing bytes,
// corrupt gzip stream), kUnsupported (element type), kIo (read failure).
Expected<Tensor> read_idx(const std::string& path);

// Same, but the magic number must be one of `accepted` (e.g. {0x00000801} for a labels file);
// otherwise fails with kParse saying what was found and what was expected.
Expected<Tensor> read_idx(const std::string& path, const std::vector<uint32_t>& accepted);

// Writes `tensor` (uint8, int8, int32 or float32, rank 1..255) as an IDX file; gzip-compressed
// when `path` ends in ".gz", plain otherwise.
Status write_idx(const std::string& path, const Tensor& tensor);

}  // namespace retort::data
