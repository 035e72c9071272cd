// A compact sparse form of a model's weights, to measure what sparsity saves on disk.
//
// Format "retort-sparse-v1" (little-endian), then the whole stream compressed with zstd
// (level 19):
//   "RSP1", u32 tensor count; per initializer (in name order):
//     u16 name length, name bytes, u8 dtype (retort::DType), u8 rank, i64 dims[rank],
//     u8 layout:
//       0 dense:  numel values (dtype-sized)
//       1 bitmap: u64 nnz, ceil(numel / 8) bitmap bytes (bit i of byte i/8, LSB first, set =
//                 non-zero), then nnz float32 values in element order.
// A float32 tensor uses the bitmap layout when it is smaller (numel/8 + 4 nnz < 4 numel,
// i.e. more than 1/32 of it is zero), else dense. Only the initializers are stored (the graph
// structure, a few hundred bytes of ONNX, is not).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "retort/core/status.h"
#include "retort/graph/model.h"

namespace retort::prune {

// The uncompressed stream of the model's initializers.
std::string encode_sparse_weights(const Model& model);
// Back to tensors (after zstd_decompress).
Expected<std::map<std::string, Tensor>> decode_sparse_weights(std::string_view stream);

Expected<std::string> zstd_compress(std::string_view bytes, int level = 19);
Expected<std::string> zstd_decompress(std::string_view bytes);

struct CompactSize {
  int64_t dense_weight_bytes = 0;  // every initializer as dense float32 (raw)
  int64_t dense_zstd_bytes = 0;    // that, zstd-compressed
  int64_t sparse_bytes = 0;        // the retort-sparse-v1 stream
  int64_t sparse_zstd_bytes = 0;   // the stream zstd-compressed (the compact form)
};
Expected<CompactSize> compact_size(const Model& model);

}  // namespace retort::prune
