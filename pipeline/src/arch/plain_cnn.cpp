// "plain-cnn": a VGG-like stack of 3x3 Conv + BN + ReLU without shortcuts, for teacher-assistant
// ladders (depth 2, 4, 6, 8, 10 give a family of students and assistants of growing capacity).
//
// Schedule: convs come in pairs; pair p has width w * 2^min(p, 2) (32, 64, 128, 128, ...). After
// a pair, a 2x2 max-pool follows while the feature map is at least 6x6, so it never drops below
// 3x3. For 28x28 input: pair 1 at 28x28 -> 14, pair 2 at 14x14 -> 7, pair 3 at 7x7 -> 3, pairs
// 4 and 5 at 3x3. Then global average pooling and one Gemm.
#include <algorithm>
#include <string>

#include "retort/arch/families.h"

namespace retort::arch {
namespace {

constexpr int64_t kMaxDepth = 20;
constexpr int64_t kMinPoolInput = 6;  // pool only while the result stays >= 3x3

}  // namespace

Status build_plain_cnn(FamilyContext& ctx) {
  RETORT_ASSIGN_OR_RETURN(int64_t depth, ctx.spec.get_int("depth", 4, 1));
  if (depth < 2 || depth > kMaxDepth || depth % 2 != 0)
    return ctx.spec.error("depth",
                          "plain-cnn depth is the number of conv layers and must be even, "
                          "from 2 to ",
                          kMaxDepth, " (e.g. 2, 4, 6, 8, 10), found ", depth);
  RETORT_ASSIGN_OR_RETURN(int64_t width, ctx.spec.get_int("width", 32, 1, kMaxFeatures));
  RETORT_ASSIGN_OR_RETURN(bool bn, ctx.spec.get_bool("bn", true));

  GraphBuilder& g = ctx.graph;
  std::string x = ctx.input;
  for (int64_t layer = 1; layer <= depth; ++layer) {
    const int64_t pair = (layer - 1) / 2;
    const std::string conv = "conv" + std::to_string(layer);
    ConvOptions o;
    o.out_channels = width << std::min<int64_t>(pair, 2);
    o.kernel = 3;
    o.pads = {1, 1, 1, 1};
    o.bias = !bn;
    RETORT_ASSIGN_OR_RETURN(x, g.conv(conv, x, o));
    if (bn) x = g.batch_norm(conv + ".bn", x);
    x = g.relu(conv + ".relu", x);
    const Shape& s = g.shape(x);
    if (layer % 2 == 0 && std::min(s[1], s[2]) >= kMinPoolInput) {
      RETORT_ASSIGN_OR_RETURN(x, g.max_pool(conv + ".pool", x, 2));
    }
  }
  x = g.global_average_pool("pool", x);
  x = g.flatten("flatten", x);
  g.gemm("fc", x, ctx.classes, kLogits);
  return Status::Ok();
}

}  // namespace retort::arch
