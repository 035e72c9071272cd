// Structured pruning: ranks channels per group and removes them (see channel_pruning.h).
#include "retort/prune/channel_pruning.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "prune/channel_graph.h"
#include "retort/core/text.h"
#include "retort/engine/flops.h"

namespace retort::prune {
namespace {

using detail::ChannelAnalysis;
using KeepLists = std::vector<std::optional<std::vector<int64_t>>>;

Status check_fraction(double value, const std::string& what) {
  if (!(value >= 0.0 && value < 1.0))
    return make_error(ErrorCode::kInvalidArgument, what, " must be in [0, 1), found ", value);
  return Status::Ok();
}

std::vector<std::string> prunable_layers(const ChannelAnalysis& a) {
  std::vector<std::string> names;
  for (const ChannelGroup& g : a.groups)
    if (g.prunable) names.insert(names.end(), g.layers.begin(), g.layers.end());
  return names;
}

std::vector<std::string> all_layers(const ChannelAnalysis& a) {
  std::vector<std::string> names;
  for (const ChannelGroup& g : a.groups)
    names.insert(names.end(), g.layers.begin(), g.layers.end());
  return names;
}

std::string describe_group(const ChannelGroup& g) {
  return g.layers.size() == 1
             ? "layer '" + g.id + "'"
             : "layer '" + g.id + "' (tied with " +
                   join(std::vector<std::string>(g.layers.begin() + 1, g.layers.end())) + ")";
}

// Group index of a layer name, or an error naming the layers that exist / why it is fixed.
Expected<size_t> group_of_layer(const ChannelAnalysis& a, const std::string& layer) {
  for (size_t i = 0; i < a.groups.size(); ++i) {
    const ChannelGroup& g = a.groups[i];
    if (std::find(g.layers.begin(), g.layers.end(), layer) == g.layers.end()) continue;
    if (!g.prunable)
      return make_error(ErrorCode::kInvalidArgument, "layer '", layer,
                        "' cannot be pruned structurally: ", g.why_not);
    return i;
  }
  const std::vector<std::string> prunable = prunable_layers(a);
  bool is_node = false;
  for (const Node& n : a.model.graph.nodes) is_node = is_node || n.name == layer;
  return make_error(ErrorCode::kNotFound,
                    is_node ? "node '" + layer +
                                  "' is not a layer with prunable channels (a Conv, Gemm or "
                                  "MatMul with a weight initializer)"
                            : "no layer named '" + layer + "'" + did_you_mean(layer, all_layers(a)),
                    "; prunable layers: ", prunable.empty() ? "none" : join(prunable));
}

// Per-channel importance of a group: lower goes first.
std::vector<double> channel_scores(const ChannelAnalysis& a, size_t group,
                                   ChannelCriterion criterion) {
  const int64_t channels = a.groups[group].channels;
  std::vector<double> score(static_cast<size_t>(channels), 0.0);
  const auto& inits = a.model.graph.initializers;
  if (criterion == ChannelCriterion::kBnScale) {
    bool any = false;
    for (size_t p : a.group_producers[group]) {
      const auto& bn = a.producers[p].bn_scale;
      if (bn.empty()) continue;
      const Tensor& gamma = inits.at(bn);
      if (gamma.numel() != channels) continue;
      any = true;
      const float* g = gamma.data<float>();
      for (int64_t c = 0; c < channels; ++c) score[c] += std::fabs(g[c]);
    }
    if (any) return score;
    // No batch norm after any layer of the group: rank by the L1 norm of the weights.
    criterion = ChannelCriterion::kL1;
  }
  for (size_t p : a.group_producers[group]) {
    const detail::Producer& prod = a.producers[p];
    const Tensor& w = inits.at(prod.weight);
    if (w.dtype() != DType::kFloat32) continue;
    const Shape& s = w.shape();
    int64_t outer = 1, after = 1;
    for (int d = 0; d < prod.weight_axis; ++d) outer *= s[d];
    for (size_t d = static_cast<size_t>(prod.weight_axis) + 1; d < s.size(); ++d) after *= s[d];
    const float* data = w.data<float>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t c = 0; c < channels; ++c) {
        const float* row = data + (o * channels + c) * after;
        double sum = 0;
        for (int64_t i = 0; i < after; ++i)
          sum += criterion == ChannelCriterion::kL1 ? std::fabs(row[i])
                                                    : static_cast<double>(row[i]) * row[i];
        score[c] += sum;
      }
  }
  if (criterion == ChannelCriterion::kL2)
    for (double& v : score) v = std::sqrt(v);
  return score;
}

int64_t kept_count(int64_t channels, double ratio, const StructuredOptions& o) {
  const int64_t removed = std::llround(ratio * static_cast<double>(channels));
  int64_t kept = std::max<int64_t>(channels - removed, std::min(o.min_channels, channels));
  if (o.channel_multiple > 1)
    kept = std::min(channels,
                    (kept + o.channel_multiple - 1) / o.channel_multiple * o.channel_multiple);
  return std::max<int64_t>(kept, 1);
}

// The `kept` best channels by score, sorted by index (ties keep the lower index).
std::vector<int64_t> best_channels(const std::vector<double>& score, int64_t kept) {
  std::vector<int64_t> order(score.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t x, int64_t y) { return score[x] > score[y]; });
  order.resize(static_cast<size_t>(kept));
  std::sort(order.begin(), order.end());
  return order;
}

StructuredResult make_result(const ChannelAnalysis& a, Model model, const KeepLists& keep) {
  StructuredResult result;
  result.model = std::move(model);
  for (size_t i = 0; i < a.groups.size(); ++i)
    if (keep[i])
      result.changes.push_back(
          {a.groups[i].id, a.groups[i].channels, static_cast<int64_t>(keep[i]->size())});
  return result;
}

}  // namespace

Expected<std::vector<ChannelGroup>> find_channel_groups(const Model& model) {
  RETORT_ASSIGN_OR_RETURN(ChannelAnalysis a, detail::analyse_channels(model));
  return std::move(a.groups);
}

Expected<StructuredResult> remove_channels(
    const Model& model, const std::map<std::string, std::vector<int64_t>>& keep) {
  RETORT_ASSIGN_OR_RETURN(ChannelAnalysis a, detail::analyse_channels(model));
  KeepLists lists(a.groups.size());
  for (const auto& entry : keep) {
    const std::string& id = entry.first;  // named, not bound: the lambda below captures it
    const std::vector<int64_t>& channels = entry.second;
    auto it = std::find_if(a.groups.begin(), a.groups.end(),
                           [&](const ChannelGroup& g) { return g.id == id; });
    if (it == a.groups.end()) {
      std::vector<std::string> ids;
      for (const ChannelGroup& g : a.groups)
        if (g.prunable) ids.push_back(g.id);
      return make_error(ErrorCode::kNotFound, "no channel group '", id, "'", did_you_mean(id, ids),
                        "; prunable groups: ", ids.empty() ? "none" : join(ids));
    }
    if (!it->prunable)
      return make_error(ErrorCode::kInvalidArgument, "channel group '", id,
                        "' cannot be pruned: ", it->why_not);
    if (channels.empty())
      return make_error(ErrorCode::kInvalidArgument, "channel group '", id,
                        "': at least one channel must be kept");
    for (size_t i = 0; i < channels.size(); ++i) {
      if (channels[i] < 0 || channels[i] >= it->channels)
        return make_error(ErrorCode::kInvalidArgument, "channel group '", id, "': channel ",
                          channels[i], " is out of range [0, ", it->channels, ")");
      if (i > 0 && channels[i] <= channels[i - 1])
        return make_error(ErrorCode::kInvalidArgument, "channel group '", id,
                          "': the channels to keep must be sorted and unique");
    }
    lists[static_cast<size_t>(it - a.groups.begin())] = channels;
  }
  RETORT_ASSIGN_OR_RETURN(Model pruned, detail::rewrite_channels(a, lists));
  return make_result(a, std::move(pruned), lists);
}

Expected<StructuredResult> prune_channels(const Model& model, const StructuredOptions& options) {
  RETORT_RETURN_IF_ERROR(check_fraction(options.ratio, "structured pruning: ratio"));
  for (const auto& [layer, r] : options.layer_ratios)
    RETORT_RETURN_IF_ERROR(check_fraction(r, "structured pruning: ratio of layer '" + layer + "'"));
  if (!(options.target_flops_fraction >= 0.0 && options.target_flops_fraction <= 1.0))
    return make_error(ErrorCode::kInvalidArgument,
                      "structured pruning: target_flops_fraction must be in (0, 1] (0: off), "
                      "found ",
                      options.target_flops_fraction);
  if (options.min_channels < 1 || options.channel_multiple < 1)
    return make_error(ErrorCode::kInvalidArgument,
                      "structured pruning: min_channels and channel_multiple must be >= 1");

  RETORT_ASSIGN_OR_RETURN(ChannelAnalysis a, detail::analyse_channels(model));
  if (std::none_of(a.groups.begin(), a.groups.end(),
                   [](const ChannelGroup& g) { return g.prunable; })) {
    std::vector<std::string> reasons;
    for (const ChannelGroup& g : a.groups) reasons.push_back(describe_group(g) + ": " + g.why_not);
    return make_error(ErrorCode::kInvalidArgument,
                      "structured pruning: the model has no layer whose channels can be removed",
                      reasons.empty() ? std::string(" (no Conv, Gemm or MatMul with weights)")
                                      : " (" + join(reasons, "; ") + ")");
  }
  std::vector<std::optional<double>> fixed(a.groups.size());
  for (const auto& [layer, r] : options.layer_ratios) {
    RETORT_ASSIGN_OR_RETURN(size_t g, group_of_layer(a, layer));
    fixed[g] = r;
  }
  std::vector<std::vector<double>> scores(a.groups.size());
  for (size_t g = 0; g < a.groups.size(); ++g)
    if (a.groups[g].prunable) scores[g] = channel_scores(a, g, options.criterion);

  auto keep_for = [&](double uniform) {
    KeepLists keep(a.groups.size());
    for (size_t g = 0; g < a.groups.size(); ++g) {
      if (!a.groups[g].prunable) continue;
      const int64_t kept = kept_count(a.groups[g].channels, fixed[g].value_or(uniform), options);
      keep[g] = best_channels(scores[g], kept);
    }
    return keep;
  };

  double ratio = options.ratio;
  if (options.target_flops_fraction > 0) {
    Model original = a.model;
    RETORT_ASSIGN_OR_RETURN(engine::ComputeCost base, engine::count_compute(original));
    const double target = options.target_flops_fraction * static_cast<double>(base.flops);
    std::map<std::vector<size_t>, int64_t> cache;  // kept counts -> FLOPs
    auto flops_at = [&](double r) -> Expected<int64_t> {
      const KeepLists keep = keep_for(r);
      std::vector<size_t> counts;
      for (const auto& k : keep) counts.push_back(k ? k->size() : 0);
      if (auto it = cache.find(counts); it != cache.end()) return it->second;
      RETORT_ASSIGN_OR_RETURN(Model pruned, detail::rewrite_channels(a, keep));
      RETORT_ASSIGN_OR_RETURN(engine::ComputeCost cost, engine::count_compute(pruned));
      cache[counts] = cost.flops;
      return cost.flops;
    };
    double lo = 0.0, hi = std::nextafter(1.0, 0.0);
    RETORT_ASSIGN_OR_RETURN(int64_t least, flops_at(hi));
    if (static_cast<double>(least) > target)
      return make_error(ErrorCode::kInvalidArgument, "structured pruning: cannot reach ",
                        options.target_flops_fraction,
                        " of the FLOPs: removing every prunable channel but min_channels leaves ",
                        static_cast<double>(least) / static_cast<double>(base.flops), " of them (",
                        least, " of ", base.flops, " FLOPs)");
    RETORT_ASSIGN_OR_RETURN(int64_t full, flops_at(0.0));
    if (static_cast<double>(full) <= target) {
      hi = 0.0;
    } else {
      for (int i = 0; i < 24; ++i) {
        const double mid = 0.5 * (lo + hi);
        RETORT_ASSIGN_OR_RETURN(int64_t f, flops_at(mid));
        (static_cast<double>(f) <= target ? hi : lo) = mid;
      }
    }
    ratio = hi;
  }
  const KeepLists keep = keep_for(ratio);
  RETORT_ASSIGN_OR_RETURN(Model pruned, detail::rewrite_channels(a, keep));
  return make_result(a, std::move(pruned), keep);
}

}  // namespace retort::prune
