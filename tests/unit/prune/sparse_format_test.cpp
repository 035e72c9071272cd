// The compact sparse form round-trips and its size follows the format's formula.
#include "retort/prune/sparse_format.h"

#include <gtest/gtest.h>

#include <cstring>

#include "prune/prune_test_support.h"
#include "retort/prune/magnitude.h"

namespace retort::prune {
namespace {

using testing::build;

TEST(SparseFormat, SizeOfAHandBuiltTensorFollowsTheFormula) {
  Model m;
  Tensor w(DType::kFloat32, {8, 8});  // 64 elements, 8 non-zeros: bitmap layout
  for (int i = 0; i < 8; ++i) w.data<float>()[i * 9] = 1.5f + i;
  m.graph.initializers["w"] = w;
  Tensor b(DType::kFloat32, {4});  // dense: no zeros
  for (int i = 0; i < 4; ++i) b.data<float>()[i] = 1.0f;
  m.graph.initializers["b"] = b;
  const std::string s = encode_sparse_weights(m);
  const size_t header = 4 + 4;
  const size_t b_size = 2 + 1 + 1 + 1 + 8 * 1 + 1 + 4 * 4;               // dense layout
  const size_t w_size = 2 + 1 + 1 + 1 + 8 * 2 + 1 + 8 + 64 / 8 + 8 * 4;  // bitmap layout
  EXPECT_EQ(s.size(), header + b_size + w_size);
  EXPECT_EQ(s.substr(0, 4), "RSP1");
}

TEST(SparseFormat, RoundTripsAPrunedModelThroughZstd) {
  Model model = build({{"arch", "lenet-300-100"}}, 5);
  auto masks = MaskSet::create(model, find_prunable_layers(model));
  ASSERT_TRUE(masks.ok());
  MagnitudeOptions o;
  o.sparsity = 0.9f;
  auto p = MagnitudePruner::create(*masks, o);
  ASSERT_TRUE(p.ok());
  p->update_final();
  masks->apply();
  const std::string stream = encode_sparse_weights(model);
  auto packed = zstd_compress(stream);
  ASSERT_TRUE(packed.ok());
  auto unpacked = zstd_decompress(*packed);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status().message();
  auto decoded = decode_sparse_weights(*unpacked);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  ASSERT_EQ(decoded->size(), model.graph.initializers.size());
  for (const auto& [name, t] : model.graph.initializers) {
    const Tensor& d = decoded->at(name);
    EXPECT_EQ(d.dtype(), t.dtype()) << name;
    EXPECT_EQ(d.shape(), t.shape()) << name;
    EXPECT_EQ(std::memcmp(d.raw(), t.raw(), t.nbytes()), 0) << name;
  }
  // 90% sparse: the compact form is well under a fifth of the dense float32 weights.
  auto size = compact_size(model);
  ASSERT_TRUE(size.ok());
  EXPECT_LT(size->sparse_bytes, size->dense_weight_bytes / 5);
  EXPECT_LT(size->sparse_zstd_bytes, size->sparse_bytes);
  EXPECT_LT(size->sparse_zstd_bytes, size->dense_zstd_bytes);
  // A truncated stream is an error, not a crash.
  EXPECT_FALSE(decode_sparse_weights(std::string_view(*unpacked).substr(0, 100)).ok());
}

}  // namespace
}  // namespace retort::prune
