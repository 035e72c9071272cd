#include "retort/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <memory>
#include <sstream>

#include "retort/core/checked_alloc.h"

namespace retort::data {
namespace {

struct IdxTypeInfo {
  IdxType code;
  const char* name;
  size_t size;
  bool supported;  // whether retort has a DType for it
  DType dtype;
};

constexpr std::array<IdxTypeInfo, 6> kIdxTypes = {{
    {IdxType::kUInt8, "uint8", 1, true, DType::kUInt8},
    {IdxType::kInt8, "int8", 1, true, DType::kInt8},
    {IdxType::kInt16, "int16", 2, false, DType::kInt32},
    {IdxType::kInt32, "int32", 4, true, DType::kInt32},
    {IdxType::kFloat32, "float32", 4, true, DType::kFloat32},
    {IdxType::kFloat64, "float64", 8, false, DType::kFloat32},
}};

const IdxTypeInfo* find_idx_type(uint32_t code) {
  for (const IdxTypeInfo& info : kIdxTypes) {
    if (static_cast<uint32_t>(info.code) == code) return &info;
  }
  return nullptr;
}

const IdxTypeInfo* find_idx_type(DType dtype) {
  for (const IdxTypeInfo& info : kIdxTypes) {
    if (info.supported && info.dtype == dtype) return &info;
  }
  return nullptr;
}

std::string hex32(uint32_t value) {
  std::ostringstream out;
  out << "0x" << std::hex << std::uppercase << std::setw(8) << std::setfill('0') << value;
  return out.str();
}

bool looks_like_idx_magic(uint32_t magic) {
  return (magic >> 16) == 0 && find_idx_type((magic >> 8) & 0xFF) != nullptr && (magic & 0xFF) != 0;
}

std::string join_magics(const std::vector<uint32_t>& magics) {
  std::string out;
  for (size_t i = 0; i < magics.size(); ++i) {
    if (i > 0) out += i + 1 == magics.size() ? " or " : ", ";
    out += describe_idx_magic(magics[i]);
  }
  return out;
}

constexpr const char* kGenericMagicHelp =
    "an IDX file starts with 0x0000TTDD (TT: element type 08 uint8, 09 int8, 0B int16, "
    "0C int32, 0D float32, 0E float64; DD: number of dimensions), e.g. 0x00000803 for "
    "images and 0x00000801 for labels";

uint32_t load_be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

void store_be32(unsigned char* p, uint32_t v) {
  p[0] = static_cast<unsigned char>(v >> 24);
  p[1] = static_cast<unsigned char>(v >> 16);
  p[2] = static_cast<unsigned char>(v >> 8);
  p[3] = static_cast<unsigned char>(v);
}

// Swaps 4-byte elements between big-endian (file) and host order, in place.
void swap_words_if_little_endian(void* data, size_t count) {
  if constexpr (std::endian::native == std::endian::little) {
    auto* bytes = static_cast<unsigned char*>(data);
    for (size_t i = 0; i < count; ++i) {
      uint32_t word;  // memcpy: the buffer may hold floats, which uint32_t must not alias
      std::memcpy(&word, bytes + 4 * i, 4);
      word = __builtin_bswap32(word);
      std::memcpy(bytes + 4 * i, &word, 4);
    }
  }
}

struct GzCloser {
  void operator()(gzFile_s* file) const { gzclose(file); }
};
using GzHandle = std::unique_ptr<gzFile_s, GzCloser>;

}  // namespace

struct IdxReader::State {
  std::string path;
  GzHandle file;
  uint32_t magic = 0;
  const IdxTypeInfo* type = nullptr;
  Shape shape;
  int64_t numel = 0;
  size_t header_bytes = 0;
  size_t data_bytes = 0;
  size_t consumed = 0;   // bytes zlib delivered so far, header included
  size_t data_read = 0;  // bytes of element data delivered to the caller

  bool compressed() const { return gzdirect(file.get()) == 0; }

  // Reads up to `n` bytes; fewer only at the end of the data.
  Expected<size_t> read_up_to(void* dst, size_t n) {
    auto* out = static_cast<unsigned char*>(dst);
    size_t done = 0;
    while (done < n) {
      const auto chunk = static_cast<unsigned>(std::min<size_t>(n - done, 1u << 30));
      const int got = gzread(file.get(), out + done, chunk);
      if (got < 0) return zlib_error();
      done += static_cast<size_t>(got);
      consumed += static_cast<size_t>(got);
      if (static_cast<unsigned>(got) < chunk) break;
    }
    return done;
  }

  // True when a gzip stream stopped before its end marker (the compressed file is cut short).
  bool ended_early() const {
    int errnum = Z_OK;
    gzerror(file.get(), &errnum);
    return errnum == Z_BUF_ERROR;
  }

  Status zlib_error() const {
    int errnum = Z_OK;
    const char* message = gzerror(file.get(), &errnum);
    if (errnum == Z_ERRNO) {
      return make_error(ErrorCode::kIo, "'", path, "': read failed after ", consumed,
                        " bytes: ", std::strerror(errno));
    }
    return make_error(ErrorCode::kParse, "'", path, "': gzip data is corrupt after ", consumed,
                      " decompressed bytes (zlib: ", message ? message : "unknown error",
                      "); the file is damaged: download or reinstall it");
  }

  std::string data_description() const {
    return detail::str_cat(header_bytes, "-byte header + ", data_bytes, " bytes of data for ",
                           type->name, " ", shape_to_string(shape));
  }

  // The header's dims against what the file can hold, before anyone allocates for them: an
  // uncompressed file holds header + data bytes, and deflate expands at most 1032:1, so a gzip
  // file of N bytes holds at most 1032 N. (Exact for gzip only once it is decompressed: a claim
  // within the bound that the stream does not keep is found by read().)
  Status check_against_file_size() const {
    std::error_code ec;
    const uintmax_t file_bytes = std::filesystem::file_size(path, ec);
    if (ec) return Status::Ok();  // not a regular file (a pipe): read() finds a short one
    constexpr uint64_t kMaxDeflateRatio = 1032;
    const uint64_t declared = header_bytes + data_bytes;
    if (!compressed()) {
      if (declared <= file_bytes) return Status::Ok();
      return make_error(ErrorCode::kParse, "'", path, "': truncated: expected ", declared,
                        " bytes (", data_description(), "), got ", file_bytes,
                        " in the file; the file is incomplete or its header is corrupt: download "
                        "or reinstall it");
    }
    if (file_bytes >= declared / kMaxDeflateRatio + 1) return Status::Ok();
    return make_error(ErrorCode::kParse, "'", path, "': the header declares ", type->name, " ",
                      shape_to_string(shape), " (", declared, " bytes with the header), more than ",
                      "the ", file_bytes, "-byte gzip file can hold (deflate expands at most ",
                      kMaxDeflateRatio,
                      ":1); the header is corrupt or the file is cut short: download or "
                      "reinstall it");
  }

  Status truncated(size_t expected, const std::string& what) const {
    const bool gzip_cut = compressed() && ended_early();
    return make_error(ErrorCode::kParse, "'", path, "': truncated: expected ", expected, " bytes (",
                      what, "), got ", consumed,
                      gzip_cut       ? " (after decompression; the gzip stream is cut short)"
                      : compressed() ? " (after decompression)"
                                     : "",
                      "; the file is incomplete: download or reinstall it");
  }
};

IdxReader::IdxReader(std::unique_ptr<State> state) : state_(std::move(state)) {}
IdxReader::IdxReader(IdxReader&&) noexcept = default;
IdxReader& IdxReader::operator=(IdxReader&&) noexcept = default;
IdxReader::~IdxReader() = default;

const std::string& IdxReader::path() const {
  return state_->path;
}
uint32_t IdxReader::magic() const {
  return state_->magic;
}
DType IdxReader::dtype() const {
  return state_->type->dtype;
}
const Shape& IdxReader::shape() const {
  return state_->shape;
}
int64_t IdxReader::numel() const {
  return state_->numel;
}

Expected<IdxReader> IdxReader::open(const std::string& path,
                                    const std::vector<uint32_t>& accepted) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) {
    return make_error(ErrorCode::kNotFound, "'", path,
                      "': no such file; check the path (IDX files may be gzip'd, *.gz)");
  }
  if (std::filesystem::is_directory(status)) {
    return make_error(ErrorCode::kInvalidArgument, "'", path,
                      "': is a directory; pass the path of an IDX file inside it");
  }
  auto state = std::make_unique<State>();
  state->path = path;
  errno = 0;
  state->file.reset(gzopen(path.c_str(), "rb"));
  if (state->file == nullptr) {
    return make_error(ErrorCode::kIo, "'", path,
                      "': cannot open: ", errno ? std::strerror(errno) : "out of memory");
  }
  gzbuffer(state->file.get(), 1u << 17);

  unsigned char head[4];
  RETORT_ASSIGN_OR_RETURN(size_t got, state->read_up_to(head, sizeof(head)));
  if (got < sizeof(head)) return state->truncated(sizeof(head), "the 4-byte IDX magic number");
  const uint32_t magic = load_be32(head);
  state->magic = magic;
  if (!accepted.empty() && std::find(accepted.begin(), accepted.end(), magic) == accepted.end()) {
    return make_error(ErrorCode::kParse, "'", path, "': wrong magic number: found ",
                      describe_idx_magic(magic), ", expected ", join_magics(accepted),
                      "; is this the right file?");
  }
  if ((magic >> 16) != 0 || find_idx_type((magic >> 8) & 0xFF) == nullptr) {
    return make_error(ErrorCode::kParse, "'", path, "': not an IDX file: wrong magic number ",
                      hex32(magic), "; ", kGenericMagicHelp);
  }
  const IdxTypeInfo& type = *find_idx_type((magic >> 8) & 0xFF);
  state->type = &type;
  if (!type.supported) {
    return make_error(ErrorCode::kUnsupported, "'", path, "': unsupported element type 0x",
                      std::hex, std::uppercase, std::setw(2), std::setfill('0'),
                      static_cast<unsigned>(type.code), std::dec, " (", type.name,
                      "); retort reads uint8, int8, int32 and float32 IDX files: convert it "
                      "to one of those");
  }
  const int rank = static_cast<int>(magic & 0xFF);
  if (rank == 0) {
    return make_error(ErrorCode::kParse, "'", path, "': IDX magic ", hex32(magic),
                      " declares 0 dimensions; ", kGenericMagicHelp);
  }

  state->header_bytes = 4 + 4 * static_cast<size_t>(rank);
  std::vector<unsigned char> dims_raw(4 * static_cast<size_t>(rank));
  RETORT_ASSIGN_OR_RETURN(got, state->read_up_to(dims_raw.data(), dims_raw.size()));
  if (got < dims_raw.size()) {
    return state->truncated(state->header_bytes,
                            detail::str_cat("a header of 4 + 4 x ", rank, " dims bytes"));
  }
  constexpr uint64_t kMaxElements = uint64_t{1} << 40;
  uint64_t numel = 1;
  for (int i = 0; i < rank; ++i) {
    state->shape.push_back(load_be32(&dims_raw[4 * static_cast<size_t>(i)]));
    numel *= static_cast<uint64_t>(state->shape.back());
    if (numel > kMaxElements) {
      return make_error(ErrorCode::kParse, "'", path, "': header declares dims ",
                        shape_to_string(state->shape),
                        "..., more than 2^40 elements; the header is corrupt");
    }
  }
  state->numel = static_cast<int64_t>(numel);
  state->data_bytes = numel * type.size;
  RETORT_RETURN_IF_ERROR(state->check_against_file_size());
  return IdxReader(std::move(state));
}

Status IdxReader::read(void* dst, int64_t count) {
  State& s = *state_;
  if (count < 0 || static_cast<uint64_t>(count) > (s.data_bytes - s.data_read) / s.type->size) {
    return make_error(ErrorCode::kInvalidArgument, "'", s.path, "': cannot read ", count,
                      " more elements: the header declares ", s.numel, " and ",
                      s.data_read / s.type->size, " were read already");
  }
  const size_t bytes = static_cast<size_t>(count) * s.type->size;
  RETORT_ASSIGN_OR_RETURN(size_t got, s.read_up_to(dst, bytes));
  s.data_read += got;
  if (got < bytes) {
    return s.truncated(s.header_bytes + s.data_bytes, s.data_description());
  }
  if (s.type->size == 4) swap_words_if_little_endian(dst, static_cast<size_t>(count));
  return Status::Ok();
}

Status IdxReader::finish() {
  State& s = *state_;
  if (s.data_read < s.data_bytes) {
    return make_error(ErrorCode::kInvalidArgument, "'", s.path, "': finish() after reading ",
                      s.data_read, " of the ", s.data_bytes, " data bytes");
  }
  // Anything after the data means the header does not describe the file. Reading past the
  // end also makes zlib check the gzip trailer (CRC and length).
  unsigned char rest[4096];
  size_t extra = 0;
  size_t got = 0;
  do {
    RETORT_ASSIGN_OR_RETURN(got, s.read_up_to(rest, sizeof(rest)));
    extra += got;
  } while (got == sizeof(rest));
  if (s.compressed() && s.ended_early()) {
    return make_error(ErrorCode::kParse, "'", s.path,
                      "': truncated: the gzip stream ends before its trailer (after ", s.consumed,
                      " decompressed bytes); the file is incomplete: download or reinstall it");
  }
  const size_t declared = s.header_bytes + s.data_bytes;
  if (extra > 0) {
    return make_error(ErrorCode::kParse, "'", s.path, "': ", extra,
                      " unexpected bytes after the data: the header declares ", s.type->name, " ",
                      shape_to_string(s.shape), " (", declared,
                      " bytes in all), but the file holds ", declared + extra,
                      "; the header does not match the data");
  }
  return Status::Ok();
}

namespace {

Expected<Tensor> read_idx_impl(const std::string& path, const std::vector<uint32_t>& accepted) {
  RETORT_ASSIGN_OR_RETURN(IdxReader reader, IdxReader::open(path, accepted));
  RETORT_ASSIGN_OR_RETURN(Tensor tensor,
                          allocate_tensor(reader.dtype(), reader.shape(), "'" + path + "'"));
  RETORT_RETURN_IF_ERROR(reader.read(tensor.raw(), tensor.numel()));
  RETORT_RETURN_IF_ERROR(reader.finish());
  return tensor;
}

}  // namespace

std::string describe_idx_magic(uint32_t magic) {
  if (!looks_like_idx_magic(magic)) return hex32(magic) + " (not an IDX magic number)";
  const IdxTypeInfo& type = *find_idx_type((magic >> 8) & 0xFF);
  const unsigned rank = magic & 0xFF;
  return detail::str_cat(hex32(magic), " (", type.name, ", ", rank, rank == 1 ? " dim)" : " dims)");
}

Expected<Tensor> read_idx(const std::string& path) {
  return read_idx_impl(path, {});
}

Expected<Tensor> read_idx(const std::string& path, const std::vector<uint32_t>& accepted) {
  return read_idx_impl(path, accepted);
}

Status write_idx(const std::string& path, const Tensor& tensor) {
  const IdxTypeInfo* type = find_idx_type(tensor.dtype());
  if (type == nullptr) {
    return make_error(ErrorCode::kUnsupported, "'", path, "': cannot write a ",
                      dtype_name(tensor.dtype()),
                      " tensor as IDX; use uint8, int8, int32 or float32");
  }
  if (tensor.rank() < 1 || tensor.rank() > 255) {
    return make_error(ErrorCode::kInvalidArgument, "'", path, "': cannot write a rank-",
                      tensor.rank(), " tensor as IDX; the format holds 1 to 255 dims");
  }
  std::vector<unsigned char> header(4 + 4 * tensor.rank());
  store_be32(header.data(), idx_magic(type->code, static_cast<int>(tensor.rank())));
  for (size_t i = 0; i < tensor.rank(); ++i) {
    if (tensor.dim(i) < 0 || tensor.dim(i) > int64_t{UINT32_MAX}) {
      return make_error(ErrorCode::kInvalidArgument, "'", path, "': dim ", i, " of ",
                        shape_to_string(tensor.shape()), " does not fit an IDX header (uint32)");
    }
    store_be32(&header[4 + 4 * i], static_cast<uint32_t>(tensor.dim(i)));
  }

  const bool gzip = path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  errno = 0;
  GzHandle file(gzopen(path.c_str(), gzip ? "wb6" : "wbT"));
  if (file == nullptr) {
    return make_error(ErrorCode::kIo, "'", path,
                      "': cannot create: ", errno ? std::strerror(errno) : "out of memory",
                      "; check that the folder exists and is writable");
  }
  auto write = [&](const void* data, size_t n) -> Status {
    const auto* p = static_cast<const unsigned char*>(data);
    while (n > 0) {
      const auto chunk = static_cast<unsigned>(std::min<size_t>(n, 1u << 30));
      if (gzwrite(file.get(), p, chunk) != static_cast<int>(chunk)) {
        int errnum = Z_OK;
        const char* message = gzerror(file.get(), &errnum);
        return make_error(ErrorCode::kIo, "'", path,
                          "': write failed: ", errnum == Z_ERRNO ? std::strerror(errno) : message);
      }
      p += chunk;
      n -= chunk;
    }
    return Status::Ok();
  };
  RETORT_RETURN_IF_ERROR(write(header.data(), header.size()));
  if (type->size == 1 || std::endian::native == std::endian::big) {
    RETORT_RETURN_IF_ERROR(write(tensor.raw(), tensor.nbytes()));
  } else {
    uint32_t buffer[4096];
    const auto* bytes = static_cast<const unsigned char*>(tensor.raw());
    const auto count = static_cast<size_t>(tensor.numel());
    for (size_t i = 0; i < count; i += std::size(buffer)) {
      const size_t n = std::min(std::size(buffer), count - i);
      std::memcpy(buffer, bytes + i * sizeof(uint32_t), n * sizeof(uint32_t));
      swap_words_if_little_endian(buffer, n);
      RETORT_RETURN_IF_ERROR(write(buffer, n * sizeof(uint32_t)));
    }
  }
  if (gzclose(file.release()) != Z_OK) {
    return make_error(ErrorCode::kIo, "'", path, "': closing failed: ", std::strerror(errno),
                      "; the file may be incomplete (disk full?)");
  }
  return Status::Ok();
}

}  // namespace retort::data
