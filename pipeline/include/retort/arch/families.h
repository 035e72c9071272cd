// The architecture families behind build_model(): one function per "arch" name. Each reads
// its own keys from the spec (the common keys are already read), appends its layers after
// the normalised input and ends with the classifier Gemm whose output is "logits".
// Use build_model(); these are exposed for build_model.cpp and for tests.
//
// "mlp"            keys: "hidden" [256, 128], "activation" "relu", "dropout" 0.0 (in [0, 1)).
//                  Nodes: flatten, fc1, fc1.relu, [fc1.dropout], fc2, ..., fcK -> logits.
// "lenet-300-100"  the MLP 784-300-100-10 (LeCun et al. 1998): fc1, fc2, fc3. Common keys only.
// "cnn"            keys: "blocks" [{"conv": 32, "pool": 2}, {"conv": 64, "pool": 2}] where a
//                  block is {"conv": out channels (required), "kernel": 3, "stride": 1,
//                  "pad": "same" | "valid" | integer, "pool": 0 (none) or a max-pool window
//                  >= 2, "bn": false}; "fc" [128]; "activation" "relu"; "dropout" 0.0 (after
//                  each hidden fc). Nodes per block i: conv<i> (no bias when bn), conv<i>.bn,
//                  conv<i>.relu, conv<i>.pool; then flatten, fc1, fc1.relu, [fc1.dropout], ...,
//                  fcK -> logits.
// "lenet5"         the cnn conv 6 5x5 pad 2, pool 2, conv 16 5x5, pool 2, fc 120, fc 84, fc 10
//                  (ReLU, max-pool). Common keys only.
// "resnet"         CIFAR-style (He et al. 2016): keys "depth" 20 (6n+2: 8, 14, 20, 32, ...),
//                  "width" 16. Nodes: stem.conv, stem.bn, stem.relu; blocks block1..block3n,
//                  each block<k>.conv1, .bn1, .relu1, .conv2, .bn2, [.shortcut.conv,
//                  .shortcut.bn when stride or width changes], .add, .relu; then pool (global
//                  average), flatten, fc -> logits. Stage widths w, 2w, 4w with strides 1, 2, 2.
// "plain-cnn"      a plain (no shortcut) CNN for teacher-assistant ladders: keys "depth" 4 (an
//                  even number of 3x3 conv layers, 2 to 20), "width" 32, "bn" true. Convs come
//                  in pairs: pair p (0-based) has width w * 2^min(p, 2) (32, 64, 128, 128, ...);
//                  after a pair, a 2x2 max-pool follows while the feature map is at least 6x6
//                  (so it stays >= 3x3): for 28x28 the maps are 28 -> 14 -> 7 -> 3 and pairs
//                  4 and 5 work at 3x3. Nodes conv<i>, conv<i>.bn, conv<i>.relu, conv<i>.pool
//                  (after every second conv that pools), then pool (global average), flatten,
//                  fc -> logits.
#pragma once

#include <cstdint>
#include <string>

#include "retort/arch/graph_builder.h"
#include "retort/arch/spec_reader.h"
#include "retort/core/status.h"

namespace retort::arch {

// The name of the classifier's output value.
inline constexpr const char* kLogits = "logits";

// Upper bounds on a spec's sizes (a recipe is a file, and its numbers decide allocations):
// far beyond any model this engine trains, small enough that no shape computed from them
// overflows int64. The weights they make are checked against the machine's memory as well.
inline constexpr int64_t kMaxFeatures = int64_t{1} << 20;     // units, channels, classes, width
inline constexpr int64_t kMaxInputExtent = int64_t{1} << 16;  // each input dim: C, H, W
inline constexpr int64_t kMaxWindow = int64_t{1} << 16;       // kernel, stride, pad, pool

struct FamilyContext {
  SpecReader& spec;  // the root object of the spec
  GraphBuilder& graph;
  std::string input;  // the normalised input value, per-sample shape {C, H, W}
  int64_t classes = 10;
};

Status build_mlp(FamilyContext& ctx);
Status build_lenet_300_100(FamilyContext& ctx);
Status build_cnn(FamilyContext& ctx);
Status build_lenet5(FamilyContext& ctx);
Status build_resnet(FamilyContext& ctx);
Status build_plain_cnn(FamilyContext& ctx);

// Shared by mlp and cnn: "activation" (only "relu" is supported for now) and "dropout" (a drop
// probability in [0, 1), default 0).
Status read_activation(SpecReader& spec);
Expected<double> read_dropout(SpecReader& spec);

}  // namespace retort::arch
