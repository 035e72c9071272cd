// "mlp" and its preset "lenet-300-100": Flatten, then Gemm + ReLU (+ Dropout) per hidden layer.
#include <string>
#include <vector>

#include "retort/arch/families.h"

namespace retort::arch {
namespace {

Status append_mlp(FamilyContext& ctx, const std::vector<int64_t>& hidden, double dropout) {
  GraphBuilder& g = ctx.graph;
  std::string x = g.flatten("flatten", ctx.input);
  for (size_t i = 0; i < hidden.size(); ++i) {
    const std::string fc = "fc" + std::to_string(i + 1);
    x = g.gemm(fc, x, hidden[i]);
    x = g.relu(fc + ".relu", x);
    if (dropout > 0.0) x = g.dropout(fc + ".dropout", x, dropout);
  }
  g.gemm("fc" + std::to_string(hidden.size() + 1), x, ctx.classes, kLogits);
  return Status::Ok();
}

}  // namespace

Status read_activation(SpecReader& spec) {
  RETORT_ASSIGN_OR_RETURN(std::string activation,
                          spec.get_choice("activation", std::string("relu"), {"relu"}));
  (void)activation;
  return Status::Ok();
}

Expected<double> read_dropout(SpecReader& spec) {
  RETORT_ASSIGN_OR_RETURN(double dropout, spec.get_number("dropout", 0.0));
  if (!(dropout >= 0.0 && dropout < 1.0))
    return spec.error("dropout", "expected a drop probability in [0, 1), found ", dropout,
                      "; use 0 for no dropout");
  return dropout;
}

Status build_mlp(FamilyContext& ctx) {
  RETORT_ASSIGN_OR_RETURN(std::vector<int64_t> hidden,
                          ctx.spec.get_int_list("hidden", std::vector<int64_t>{256, 128}, 1,
                                                std::nullopt, kMaxFeatures));
  RETORT_RETURN_IF_ERROR(read_activation(ctx.spec));
  RETORT_ASSIGN_OR_RETURN(double dropout, read_dropout(ctx.spec));
  return append_mlp(ctx, hidden, dropout);
}

Status build_lenet_300_100(FamilyContext& ctx) {
  return append_mlp(ctx, {300, 100}, 0.0);
}

}  // namespace retort::arch
