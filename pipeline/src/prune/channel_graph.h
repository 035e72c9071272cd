// Private to the channel pruning sources: the result of analysing a model's channel flow
// (which values carry which group's channels, on which axis) and the edits that removing
// channels implies. channel_groups.cpp builds it; channel_rewrite.cpp applies it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "retort/core/status.h"
#include "retort/graph/model.h"
#include "retort/prune/channel_pruning.h"

namespace retort::prune::detail {

// A layer whose output channels (Conv filters, Gemm/MatMul neurons) can be removed.
struct Producer {
  size_t node = 0;       // index into ChannelAnalysis::model.graph.nodes
  std::string name;      // node name
  std::string weight;    // weight initializer
  int weight_axis = 0;   // axis of `weight` that indexes the output channels
  std::string bn_scale;  // scale initializer of the BatchNormalization reading its output
  int64_t channels = 0;
  size_t group = 0;  // index into ChannelAnalysis::groups
};

// Slice node input `input` (an initializer) along `axis`: channel c of the group spans the
// entries [c * inner, (c + 1) * inner) of that axis.
struct TensorEdit {
  size_t node = 0;
  size_t input = 0;
  size_t group = 0;
  int axis = 0;
  int64_t inner = 1;
};

// Set a depthwise Conv's `group` attribute to the number of kept channels.
struct GroupAttrEdit {
  size_t node = 0;
  size_t group = 0;
};

// A Reshape's shape constant: a positive entry at `axis` becomes kept * inner.
struct ShapeEdit {
  size_t node = 0;
  size_t group = 0;
  int axis = 0;
  int64_t inner = 1;
};

// A value (value_info or graph output) whose dim `axis` becomes kept * inner.
struct ValueEdit {
  std::string value;
  size_t group = 0;
  int axis = 0;
  int64_t inner = 1;
};

struct ChannelAnalysis {
  Model model;  // shallow copy of the input with nodes in topological order
  std::vector<ChannelGroup> groups;
  std::vector<std::vector<size_t>> group_producers;  // per group: indices into producers
  std::vector<Producer> producers;
  std::vector<TensorEdit> tensor_edits;
  std::vector<GroupAttrEdit> attr_edits;
  std::vector<ShapeEdit> shape_edits;
  std::vector<ValueEdit> value_edits;
};

Expected<ChannelAnalysis> analyse_channels(const Model& model);

// The model with, for every group that has an entry, only the listed channels (sorted,
// unique, in range, non-empty; checked by the caller). Every initializer is a fresh tensor.
Expected<Model> rewrite_channels(const ChannelAnalysis& analysis,
                                 const std::vector<std::optional<std::vector<int64_t>>>& keep);

}  // namespace retort::prune::detail
