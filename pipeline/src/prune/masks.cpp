#include "retort/prune/masks.h"

namespace retort::prune {

int64_t LayerMask::pruned() const {
  int64_t zeros = 0;
  for (float k : keep) zeros += k == 0.0f ? 1 : 0;
  return zeros;
}

Expected<MaskSet> MaskSet::create(Model& model, const std::vector<PrunableLayer>& layers) {
  MaskSet set;
  for (const PrunableLayer& l : layers) {
    auto it = model.graph.initializers.find(l.weight);
    if (it == model.graph.initializers.end() || it->second.dtype() != DType::kFloat32 ||
        it->second.numel() != l.numel())
      return make_error(ErrorCode::kInternal, "layer '", l.node, "': weight '", l.weight,
                        "' is missing or changed shape");
    LayerMask m;
    m.layer = l;
    m.keep.assign(static_cast<size_t>(l.numel()), 1.0f);
    m.weight = it->second.data<float>();
    set.layers_.push_back(std::move(m));
  }
  return set;
}

LayerMask* MaskSet::find(const std::string& node) {
  for (LayerMask& m : layers_)
    if (m.layer.node == node) return &m;
  return nullptr;
}

void MaskSet::apply() const {
  for (const LayerMask& m : layers_) {
    float* w = m.weight;
    const float* k = m.keep.data();
    const size_t n = m.keep.size();
    // A select, not w * k: a negative weight times 0 is -0.0, and plain zeros compress better.
    for (size_t i = 0; i < n; ++i) w[i] = k[i] != 0.0f ? w[i] : 0.0f;
  }
}

void MaskSet::mask_gradients(std::span<const engine::Parameter> parameters) const {
  for (const LayerMask& m : layers_)
    for (const engine::Parameter& p : parameters) {
      if (p.value.data != m.weight || !p.grad) continue;
      float* g = p.grad.data;
      const float* k = m.keep.data();
      const size_t n = m.keep.size();
      for (size_t i = 0; i < n; ++i) g[i] = k[i] != 0.0f ? g[i] : 0.0f;
      break;
    }
}

double MaskSet::sparsity() const {
  int64_t zeros = 0, total = 0;
  for (const LayerMask& m : layers_) {
    zeros += m.pruned();
    total += static_cast<int64_t>(m.keep.size());
  }
  return total ? static_cast<double>(zeros) / static_cast<double>(total) : 0.0;
}

}  // namespace retort::prune
