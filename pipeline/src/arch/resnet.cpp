// "resnet": the CIFAR-style residual network of He et al. (2016), depth 6n+2: a 3x3 stem,
// three stages of n basic blocks (widths w, 2w, 4w; the first block of stages 2 and 3 has
// stride 2 and a 1x1 projection shortcut), global average pooling and one Gemm.
#include <string>

#include "retort/arch/families.h"

namespace retort::arch {
namespace {

// ResNet-1202, the deepest of the paper's CIFAR networks.
constexpr int64_t kMaxDepth = 1202;

// Conv + BatchNormalization (the conv has no bias: the BN's bias plays its part).
Expected<std::string> conv_bn(GraphBuilder& g, const std::string& conv_name,
                              const std::string& bn_name, const std::string& x, int64_t channels,
                              int64_t kernel, int64_t stride) {
  ConvOptions o;
  o.out_channels = channels;
  o.kernel = kernel;
  o.stride = stride;
  const int64_t pad = kernel / 2;  // symmetric, as in the original: ceil(size / stride) outputs
  o.pads = {pad, pad, pad, pad};
  o.bias = false;
  RETORT_ASSIGN_OR_RETURN(std::string y, g.conv(conv_name, x, o));
  return g.batch_norm(bn_name, y);
}

Expected<std::string> basic_block(GraphBuilder& g, const std::string& name, const std::string& x,
                                  int64_t channels, int64_t stride) {
  RETORT_ASSIGN_OR_RETURN(std::string y,
                          conv_bn(g, name + ".conv1", name + ".bn1", x, channels, 3, stride));
  y = g.relu(name + ".relu1", y);
  RETORT_ASSIGN_OR_RETURN(y, conv_bn(g, name + ".conv2", name + ".bn2", y, channels, 3, 1));
  std::string shortcut = x;
  if (stride != 1 || g.shape(x)[0] != channels) {
    RETORT_ASSIGN_OR_RETURN(shortcut, conv_bn(g, name + ".shortcut.conv", name + ".shortcut.bn", x,
                                              channels, 1, stride));
  }
  y = g.add(name + ".add", y, shortcut);
  return g.relu(name + ".relu", y);
}

}  // namespace

Status build_resnet(FamilyContext& ctx) {
  RETORT_ASSIGN_OR_RETURN(int64_t depth, ctx.spec.get_int("depth", 20, 1));
  if (depth < 8 || depth > kMaxDepth || (depth - 2) % 6 != 0)
    return ctx.spec.error("depth",
                          "resnet depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, "
                          "110, up to ",
                          kMaxDepth, "), found ", depth);
  RETORT_ASSIGN_OR_RETURN(int64_t width, ctx.spec.get_int("width", 16, 1, kMaxFeatures));
  const int64_t blocks_per_stage = (depth - 2) / 6;

  GraphBuilder& g = ctx.graph;
  RETORT_ASSIGN_OR_RETURN(std::string x,
                          conv_bn(g, "stem.conv", "stem.bn", ctx.input, width, 3, 1));
  x = g.relu("stem.relu", x);
  int block = 0;
  for (int stage = 0; stage < 3; ++stage) {
    const int64_t channels = width << stage;
    for (int64_t i = 0; i < blocks_per_stage; ++i) {
      const int64_t stride = (stage > 0 && i == 0) ? 2 : 1;
      RETORT_ASSIGN_OR_RETURN(
          x, basic_block(g, "block" + std::to_string(++block), x, channels, stride));
    }
  }
  x = g.global_average_pool("pool", x);
  x = g.flatten("flatten", x);
  g.gemm("fc", x, ctx.classes, kLogits);
  return Status::Ok();
}

}  // namespace retort::arch
