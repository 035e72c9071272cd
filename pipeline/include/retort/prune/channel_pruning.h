// Structured pruning: whole output channels of Conv layers and output neurons of Gemm/MatMul
// layers are removed by rewriting the graph, so the result is a smaller dense model. Consumers
// follow: BatchNormalization's parameters, the next Conv's input channels (per group), a
// Flatten into a Gemm (the Gemm's input columns for every spatial position of the channel).
// Channels that meet at an elementwise Add/Sub/Mul/Div (a residual shortcut) are tied into one
// group and are removed together or not at all.
//
// Handled along the way: ReLU-like activations, Dropout, Identity, pooling (incl. global), Pad
// (not on the channel axis), Softmax over another axis, per-channel constants of elementwise
// ops, depthwise convolutions (group == channels: they follow their input's group and shrink
// their own output and `group`), Flatten / Reshape to [N, -1] into a Gemm or MatMul (every
// spatial position of a channel), Gemm's transB. A group is not prunable (ChannelGroup::why_not
// names the node) when its channels reach a graph output, a Concat, a grouped convolution, a
// Reshape that mixes channels, a Softmax over the channels or any other op.
// The analysis compiles a batch-1 engine plan to learn the shapes, so the model must compile.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "retort/core/status.h"
#include "retort/graph/model.h"

namespace retort::prune {

// How channels are ranked within a group (lowest scores go first).
enum class ChannelCriterion {
  kL1,       // L1 norm of the channel's weights (summed over the group's layers)
  kL2,       // L2 norm
  kBnScale,  // |gamma| of the BatchNormalization that follows each layer (network slimming),
             // summed over the group's layers; a group with no such batch norm uses kL1
};
// kL1 sums |w| over the channel's weights of every layer of the group; kL2 is the L2 norm of
// those weights taken together. Ties keep the lower channel index.

// A set of output channels that can only be removed together.
struct ChannelGroup {
  std::string id;                   // the node name of the group's first producing layer
  std::vector<std::string> layers;  // node names of the Conv/Gemm/MatMul layers that produce it
  int64_t channels = 0;
  bool prunable = true;
  std::string why_not;  // when !prunable: why (e.g. "its output is the graph output 'logits'")
};

// Every group of the model, in topological order of their first layer.
Expected<std::vector<ChannelGroup>> find_channel_groups(const Model& model);

struct StructuredOptions {
  ChannelCriterion criterion = ChannelCriterion::kL1;
  // Fraction of channels removed from every prunable group, in [0, 1).
  float ratio = 0.5f;
  // Per-layer override (node name of any layer of the group) -> fraction removed. Naming a
  // layer that does not exist, or one whose group is not prunable, is an error saying which
  // layers exist or why the group cannot be pruned.
  std::map<std::string, float> layer_ratios;
  // When > 0: ignore `ratio` and find the one uniform ratio that brings the model's FLOPs to at
  // most this fraction of the original (e.g. 0.5 for half the FLOPs): a bisection over the
  // ratio, FLOPs from engine::count_compute() of each candidate model. Groups named in
  // layer_ratios keep their own ratio. An error when even the largest ratio (min_channels left
  // everywhere) does not reach the target. Must be in [0, 1].
  double target_flops_fraction = 0;
  int64_t min_channels = 1;  // never leave a group with fewer channels than this
  // Round every group's kept channel count up to a multiple of this (capped at the group's
  // size), for kernels that prefer channel counts that are multiples of 8 or 16. With a FLOPs
  // target the search still meets the target (the rounding can leave it further below).
  // Channels removed from a group = round(ratio * channels), then min_channels and this apply.
  int64_t channel_multiple = 1;
};

// One per prunable group (in group order), also for groups left whole.
struct ChannelChange {
  std::string group;  // ChannelGroup::id
  int64_t before = 0;
  int64_t after = 0;
};

struct StructuredResult {
  Model model;  // a new model: fresh tensors, the input model is left unchanged
  std::vector<ChannelChange> changes;
};

// Ranks and removes channels according to `options`. Errors (kInvalidArgument unless said):
// a ratio outside [0, 1); a layer_ratios name that is not a layer (kNotFound, listing the
// prunable layers) or whose group is not prunable (saying why); a model without any prunable
// group (saying why for each group); an unreachable FLOPs target.
Expected<StructuredResult> prune_channels(const Model& model, const StructuredOptions& options);

// Removes exactly the channels not listed: `keep` maps a group id to the sorted channel
// indices to keep (non-empty, unique, in range). Groups not named keep every channel; naming
// an unknown (kNotFound) or unprunable group is an error. `changes` lists the named groups.
Expected<StructuredResult> remove_channels(const Model& model,
                                           const std::map<std::string, std::vector<int64_t>>& keep);

}  // namespace retort::prune
