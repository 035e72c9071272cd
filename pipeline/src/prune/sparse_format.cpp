#include "retort/prune/sparse_format.h"

#include <zstd.h>

#include <cstring>

namespace retort::prune {
namespace {

template <typename T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  template <typename T>
  bool get(T& v) {
    if (s_.size() - at_ < sizeof v) return false;
    std::memcpy(&v, s_.data() + at_, sizeof v);
    at_ += sizeof v;
    return true;
  }
  bool bytes(void* dst, size_t n) {
    if (s_.size() - at_ < n) return false;
    std::memcpy(dst, s_.data() + at_, n);
    at_ += n;
    return true;
  }

 private:
  std::string_view s_;
  size_t at_ = 0;
};

}  // namespace

std::string encode_sparse_weights(const Model& model) {
  std::string out = "RSP1";
  put<uint32_t>(out, static_cast<uint32_t>(model.graph.initializers.size()));
  for (const auto& [name, t] : model.graph.initializers) {
    put<uint16_t>(out, static_cast<uint16_t>(name.size()));
    out += name;
    put<uint8_t>(out, static_cast<uint8_t>(t.dtype()));
    put<uint8_t>(out, static_cast<uint8_t>(t.rank()));
    for (int64_t d : t.shape()) put<int64_t>(out, d);
    const int64_t n = t.numel();
    int64_t nnz = n;
    if (t.dtype() == DType::kFloat32) {
      nnz = 0;
      for (float v : t.span<float>()) nnz += v != 0.0f ? 1 : 0;
    }
    const bool bitmap = t.dtype() == DType::kFloat32 && (n + 7) / 8 + 4 * nnz < 4 * n;
    put<uint8_t>(out, bitmap ? 1 : 0);
    if (!bitmap) {
      out.append(static_cast<const char*>(t.raw()), t.nbytes());
      continue;
    }
    put<uint64_t>(out, static_cast<uint64_t>(nnz));
    std::string bits(static_cast<size_t>((n + 7) / 8), '\0');
    const float* v = t.data<float>();
    for (int64_t i = 0; i < n; ++i)
      if (v[i] != 0.0f) bits[static_cast<size_t>(i / 8)] |= static_cast<char>(1u << (i % 8));
    out += bits;
    for (int64_t i = 0; i < n; ++i)
      if (v[i] != 0.0f) put<float>(out, v[i]);
  }
  return out;
}

Expected<std::map<std::string, Tensor>> decode_sparse_weights(std::string_view stream) {
  auto corrupt = [] { return make_error(ErrorCode::kParse, "corrupt retort-sparse-v1 stream"); };
  Reader r(stream);
  char magic[4];
  uint32_t count = 0;
  if (!r.bytes(magic, 4) || std::memcmp(magic, "RSP1", 4) != 0 || !r.get(count)) return corrupt();
  std::map<std::string, Tensor> out;
  for (uint32_t k = 0; k < count; ++k) {
    uint16_t len = 0;
    uint8_t dtype = 0, rank = 0, layout = 0;
    if (!r.get(len)) return corrupt();
    std::string name(len, '\0');
    if (!r.bytes(name.data(), len) || !r.get(dtype) || !r.get(rank)) return corrupt();
    if (dtype > static_cast<uint8_t>(DType::kBool)) return corrupt();
    Shape shape(rank);
    for (auto& d : shape)
      if (!r.get(d) || d < 0) return corrupt();
    if (!r.get(layout)) return corrupt();
    Tensor t(static_cast<DType>(dtype), shape);
    if (layout == 0) {
      if (!r.bytes(t.raw(), t.nbytes())) return corrupt();
    } else if (layout == 1 && t.dtype() == DType::kFloat32) {
      uint64_t nnz = 0;
      const int64_t n = t.numel();
      std::string bits(static_cast<size_t>((n + 7) / 8), '\0');
      if (!r.get(nnz) || !r.bytes(bits.data(), bits.size())) return corrupt();
      float* v = t.data<float>();
      uint64_t seen = 0;
      for (int64_t i = 0; i < n; ++i)
        if (static_cast<unsigned char>(bits[static_cast<size_t>(i / 8)]) & (1u << (i % 8))) {
          if (++seen > nnz || !r.get(v[i])) return corrupt();
        }
      if (seen != nnz) return corrupt();
    } else {
      return corrupt();
    }
    out.emplace(std::move(name), std::move(t));
  }
  return out;
}

Expected<std::string> zstd_compress(std::string_view bytes, int level) {
  std::string out(ZSTD_compressBound(bytes.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), bytes.data(), bytes.size(), level);
  if (ZSTD_isError(n))
    return make_error(ErrorCode::kInternal, "zstd compression failed: ", ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

Expected<std::string> zstd_decompress(std::string_view bytes) {
  const unsigned long long size = ZSTD_getFrameContentSize(bytes.data(), bytes.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN)
    return make_error(ErrorCode::kParse, "not a zstd frame with a known size");
  std::string out(static_cast<size_t>(size), '\0');
  const size_t n = ZSTD_decompress(out.data(), out.size(), bytes.data(), bytes.size());
  if (ZSTD_isError(n))
    return make_error(ErrorCode::kParse, "zstd decompression failed: ", ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

Expected<CompactSize> compact_size(const Model& model) {
  CompactSize size;
  std::string dense;
  for (const auto& [name, t] : model.graph.initializers)
    dense.append(static_cast<const char*>(t.raw()), t.nbytes());
  size.dense_weight_bytes = static_cast<int64_t>(dense.size());
  RETORT_ASSIGN_OR_RETURN(std::string dz, zstd_compress(dense));
  size.dense_zstd_bytes = static_cast<int64_t>(dz.size());
  const std::string sparse = encode_sparse_weights(model);
  size.sparse_bytes = static_cast<int64_t>(sparse.size());
  RETORT_ASSIGN_OR_RETURN(std::string sz, zstd_compress(sparse));
  size.sparse_zstd_bytes = static_cast<int64_t>(sz.size());
  return size;
}

}  // namespace retort::prune
