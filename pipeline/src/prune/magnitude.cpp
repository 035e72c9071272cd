#include "retort/prune/magnitude.h"

#include <algorithm>
#include <cmath>

namespace retort::prune {
namespace {

bool entry_less(const auto& a, const auto& b) {
  if (a.magnitude != b.magnitude) return a.magnitude < b.magnitude;
  if (a.layer != b.layer) return a.layer < b.layer;
  return a.index < b.index;
}

int64_t count_for(double sparsity, int64_t n) {
  return std::clamp<int64_t>(std::llround(sparsity * static_cast<double>(n)), 0, n);
}

}  // namespace

Status check_sparsity(double sparsity, const std::string& where) {
  if (!(sparsity >= 0.0 && sparsity < 1.0))
    return make_error(ErrorCode::kInvalidArgument, where, ": sparsity must be in [0, 1), got ",
                      sparsity, sparsity >= 1.0 ? " (1 would remove every weight)" : "");
  return Status::Ok();
}

Expected<MagnitudePruner> MagnitudePruner::create(MaskSet& masks, const MagnitudeOptions& options,
                                                  const std::string& where) {
  MagnitudePruner p;
  p.masks_ = &masks;
  p.options_ = options;
  const std::vector<LayerMask>& layers = masks.layers();
  std::vector<PrunableLayer> known;
  known.reserve(layers.size());
  for (const LayerMask& m : layers) known.push_back(m.layer);
  auto check_keys = [&](const std::map<std::string, float>& m, const char* key) -> Status {
    for (const auto& [name, value] : m) {
      if (masks.find(name) == nullptr)
        return make_error(ErrorCode::kInvalidArgument, where, "/", key, "/", name,
                          ": no prunable layer named '", name,
                          "' is selected; the prunable layers are: ", layer_names(known));
      (void)value;
    }
    return Status::Ok();
  };
  RETORT_RETURN_IF_ERROR(check_keys(options.layer_sparsity, "layer_sparsity"));
  RETORT_RETURN_IF_ERROR(check_keys(options.layer_quality, "layer_quality"));
  if (options.han_rule) {
    if (!(options.quality >= 0))
      return make_error(ErrorCode::kInvalidArgument, where, "/quality: must be >= 0, got ",
                        options.quality);
    for (const auto& [name, q] : options.layer_quality)
      if (!(q >= 0))
        return make_error(ErrorCode::kInvalidArgument, where, "/layer_quality/", name,
                          ": must be >= 0, got ", q);
  } else {
    RETORT_RETURN_IF_ERROR(check_sparsity(options.sparsity, where + "/sparsity"));
    for (const auto& [name, s] : options.layer_sparsity)
      RETORT_RETURN_IF_ERROR(check_sparsity(s, where + "/layer_sparsity/" + name));
    if (options.scope == MagnitudeOptions::Scope::kGlobal && !options.layer_sparsity.empty())
      return make_error(ErrorCode::kInvalidArgument, where,
                        "/layer_sparsity: per-layer sparsities need \"scope\": \"layer\" (a "
                        "global threshold sets one sparsity over all layers)");
  }
  size_t max_layer = 0, total = 0;
  for (const LayerMask& m : layers) {
    const std::string& node = m.layer.node;
    if (options.han_rule) {
      auto q = options.layer_quality.find(node);
      p.targets_.push_back(q == options.layer_quality.end() ? options.quality : q->second);
    } else {
      auto s = options.layer_sparsity.find(node);
      p.targets_.push_back(s == options.layer_sparsity.end() ? options.sparsity : s->second);
    }
    double sum = 0, sq = 0;
    const size_t n = m.keep.size();
    for (size_t i = 0; i < n; ++i) {
      sum += m.weight[i];
      sq += static_cast<double>(m.weight[i]) * m.weight[i];
    }
    const double mean = n ? sum / static_cast<double>(n) : 0.0;
    p.stds_.push_back(n ? std::sqrt(std::max(0.0, sq / static_cast<double>(n) - mean * mean))
                        : 0.0);
    max_layer = std::max(max_layer, n);
    total += n;
  }
  const bool global = options.scope == MagnitudeOptions::Scope::kGlobal && !options.han_rule;
  if (!options.han_rule) p.scratch_.resize(global ? total : max_layer);
  return p;
}

void MagnitudePruner::prune_layer(size_t layer, double target) {
  LayerMask& m = masks_->layers()[layer];
  const size_t n = m.keep.size();
  if (options_.han_rule) {
    const float threshold = static_cast<float>(target * stds_[layer]);
    for (size_t i = 0; i < n; ++i) m.keep[i] = std::fabs(m.weight[i]) < threshold ? 0.0f : 1.0f;
    return;
  }
  const int64_t k = count_for(target, static_cast<int64_t>(n));
  std::fill(m.keep.begin(), m.keep.end(), 1.0f);
  if (k == 0) return;
  for (size_t i = 0; i < n; ++i)
    scratch_[i] = {std::fabs(m.weight[i]), static_cast<uint32_t>(layer), static_cast<uint32_t>(i)};
  auto end = scratch_.begin() + static_cast<std::ptrdiff_t>(n);
  std::nth_element(scratch_.begin(), scratch_.begin() + (k - 1), end,
                   [](const Entry& a, const Entry& b) { return entry_less(a, b); });
  // nth_element leaves every element before the (k-1)th not greater than it.
  for (int64_t j = 0; j < k; ++j) m.keep[scratch_[static_cast<size_t>(j)].index] = 0.0f;
}

void MagnitudePruner::prune_global(double sparsity) {
  std::vector<LayerMask>& layers = masks_->layers();
  size_t at = 0;
  for (size_t l = 0; l < layers.size(); ++l) {
    LayerMask& m = layers[l];
    std::fill(m.keep.begin(), m.keep.end(), 1.0f);
    for (size_t i = 0; i < m.keep.size(); ++i)
      scratch_[at++] = {std::fabs(m.weight[i]), static_cast<uint32_t>(l), static_cast<uint32_t>(i)};
  }
  const int64_t k = count_for(sparsity, static_cast<int64_t>(scratch_.size()));
  if (k == 0) return;
  std::nth_element(scratch_.begin(), scratch_.begin() + (k - 1), scratch_.end(),
                   [](const Entry& a, const Entry& b) { return entry_less(a, b); });
  for (int64_t j = 0; j < k; ++j) {
    const Entry& e = scratch_[static_cast<size_t>(j)];
    layers[e.layer].keep[e.index] = 0.0f;
  }
}

}  // namespace retort::prune
