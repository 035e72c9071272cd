// "cnn" and its preset "lenet5": conv blocks (Conv [+ BN] + ReLU [+ MaxPool]), then Flatten and
// fully connected layers.
#include <optional>
#include <string>
#include <vector>

#include "retort/arch/families.h"

namespace retort::arch {
namespace {

using nlohmann::json;

struct ConvBlock {
  int64_t channels = 0;
  int64_t kernel = 3;
  int64_t stride = 1;
  std::optional<int64_t> pad;  // nullopt: "same"
  int64_t pool = 0;            // 0: no pooling
  bool bn = false;
  std::string where;  // JSON pointer for errors about this block
};

Expected<std::optional<int64_t>> read_pad(SpecReader& block) {
  const json* pad = block.raw("pad");
  if (pad == nullptr) {
    block.resolve("pad", "same");
    return std::optional<int64_t>();
  }
  if (pad->is_string()) {
    const std::string mode = pad->get<std::string>();
    if (mode == "same") {
      block.resolve("pad", mode);
      return std::optional<int64_t>();
    }
    if (mode == "valid") {
      block.resolve("pad", mode);
      return std::optional<int64_t>(0);
    }
    return block.error("pad", "unknown padding '", mode, "'", did_you_mean(mode, {"same", "valid"}),
                       "; use \"same\", \"valid\" or a number of pixels >= 0");
  }
  if (pad->is_number_integer() && pad->get<int64_t>() >= 0 && pad->get<int64_t>() <= kMaxWindow) {
    block.resolve("pad", *pad);
    return std::optional<int64_t>(pad->get<int64_t>());
  }
  return block.error("pad", "expected \"same\", \"valid\" or an integer from 0 to ", kMaxWindow,
                     ", found ", describe_json(*pad));
}

Expected<ConvBlock> read_block(SpecReader& spec) {
  ConvBlock b;
  b.where = spec.path();
  RETORT_ASSIGN_OR_RETURN(b.channels, spec.get_int("conv", std::nullopt, 1, kMaxFeatures));
  RETORT_ASSIGN_OR_RETURN(b.kernel, spec.get_int("kernel", 3, 1, kMaxWindow));
  RETORT_ASSIGN_OR_RETURN(b.stride, spec.get_int("stride", 1, 1, kMaxWindow));
  RETORT_ASSIGN_OR_RETURN(b.pad, read_pad(spec));
  RETORT_ASSIGN_OR_RETURN(b.pool, spec.get_int("pool", 0, 0, kMaxWindow));
  if (b.pool == 1)
    return spec.error("pool",
                      "a 1x1 pooling window does nothing; use 0 for no pooling or a "
                      "window >= 2");
  RETORT_ASSIGN_OR_RETURN(b.bn, spec.get_bool("bn", false));
  RETORT_RETURN_IF_ERROR(spec.finish("a conv block (keys: conv, kernel, stride, pad, pool, bn)"));
  return b;
}

Status append_cnn(FamilyContext& ctx, const std::vector<ConvBlock>& blocks,
                  const std::vector<int64_t>& fc, double dropout) {
  GraphBuilder& g = ctx.graph;
  std::string x = ctx.input;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const ConvBlock& b = blocks[i];
    const std::string conv = "conv" + std::to_string(i + 1);
    ConvOptions options;
    options.out_channels = b.channels;
    options.kernel = b.kernel;
    options.stride = b.stride;
    const Shape& in = g.shape(x);
    options.pads = b.pad ? std::array<int64_t, 4>{*b.pad, *b.pad, *b.pad, *b.pad}
                         : same_pads(in[1], in[2], b.kernel, b.stride);
    options.bias = !b.bn;
    auto conv_out = g.conv(conv, x, options);
    if (!conv_out.ok()) return conv_out.status().with_context(b.where);
    x = *conv_out;
    if (b.bn) x = g.batch_norm(conv + ".bn", x);
    x = g.relu(conv + ".relu", x);
    if (b.pool > 0) {
      auto pooled = g.max_pool(conv + ".pool", x, b.pool);
      if (!pooled.ok()) return pooled.status().with_context(b.where);
      x = *pooled;
    }
  }
  x = g.flatten("flatten", x);
  for (size_t i = 0; i < fc.size(); ++i) {
    const std::string name = "fc" + std::to_string(i + 1);
    x = g.gemm(name, x, fc[i]);
    x = g.relu(name + ".relu", x);
    if (dropout > 0.0) x = g.dropout(name + ".dropout", x, dropout);
  }
  g.gemm("fc" + std::to_string(fc.size() + 1), x, ctx.classes, kLogits);
  return Status::Ok();
}

}  // namespace

Status build_cnn(FamilyContext& ctx) {
  static const json kDefaultBlocks = json::parse(R"([{"conv": 32, "pool": 2},
                                                     {"conv": 64, "pool": 2}])");
  RETORT_ASSIGN_OR_RETURN(std::vector<SpecReader> block_specs,
                          ctx.spec.get_object_list("blocks", &kDefaultBlocks, 1));
  std::vector<ConvBlock> blocks;
  for (SpecReader& block_spec : block_specs) {
    RETORT_ASSIGN_OR_RETURN(ConvBlock block, read_block(block_spec));
    blocks.push_back(std::move(block));
  }
  RETORT_ASSIGN_OR_RETURN(
      std::vector<int64_t> fc,
      ctx.spec.get_int_list("fc", std::vector<int64_t>{128}, 1, std::nullopt, kMaxFeatures));
  RETORT_RETURN_IF_ERROR(read_activation(ctx.spec));
  RETORT_ASSIGN_OR_RETURN(double dropout, read_dropout(ctx.spec));
  return append_cnn(ctx, blocks, fc, dropout);
}

Status build_lenet5(FamilyContext& ctx) {
  const std::string where = ctx.spec.path_of("input");
  const std::vector<ConvBlock> blocks = {
      {.channels = 6, .kernel = 5, .stride = 1, .pad = 2, .pool = 2, .bn = false, .where = where},
      {.channels = 16, .kernel = 5, .stride = 1, .pad = 0, .pool = 2, .bn = false, .where = where},
  };
  return append_cnn(ctx, blocks, {120, 84}, 0.0);
}

}  // namespace retort::arch
