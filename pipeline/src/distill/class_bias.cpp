#include "retort/distill/class_bias.h"

#include <algorithm>
#include <cstring>

#include "nlohmann/json.hpp"
#include "retort/data/batch_loader.h"
#include "retort/engine/plan.h"

namespace retort::distill {
namespace {

// The best bias for class `cls` with every other bias fixed, exactly: sample i goes to `cls`
// once the bias exceeds its margin m_i = (best other logit + bias) - logit[cls]; sweeping the
// sorted margins counts the accuracy of every distinct choice.
float best_bias_for(const std::vector<float>& logits, const std::vector<int32_t>& labels,
                    int64_t classes, const std::vector<float>& bias, int cls) {
  struct Sample {
    double margin;
    int gain;  // accuracy change when this sample switches to cls: +1, -1 or 0
  };
  std::vector<Sample> samples;
  int64_t base = 0;  // correct with the bias at -infinity (nothing goes to cls)
  for (size_t i = 0; i < labels.size(); ++i) {
    const float* row = logits.data() + i * classes;
    int64_t other = -1;
    for (int64_t c = 0; c < classes; ++c)
      if (c != cls && (other < 0 || row[c] + bias[c] > row[other] + bias[other])) other = c;
    const bool other_right = other == labels[i];
    base += other_right ? 1 : 0;
    const int gain = (labels[i] == cls ? 1 : 0) - (other_right ? 1 : 0);
    samples.push_back({static_cast<double>(row[other] + bias[other]) - row[cls], gain});
  }
  std::sort(samples.begin(), samples.end(),
            [](const Sample& a, const Sample& b) { return a.margin < b.margin; });
  // Start from the current bias's accuracy, then try just above each margin.
  int64_t best = 0;
  for (const Sample& s : samples) best += (bias[cls] > s.margin ? s.gain : 0);
  float best_bias = bias[cls];
  int64_t running = 0;
  for (size_t k = 0; k < samples.size(); ++k) {
    running += samples[k].gain;
    if (k + 1 < samples.size() && samples[k + 1].margin == samples[k].margin) continue;
    const double next = k + 1 < samples.size() ? samples[k + 1].margin : samples[k].margin + 2.0;
    if (running > best) {
      best = running;
      best_bias = static_cast<float>((samples[k].margin + next) / 2);
    }
  }
  (void)base;
  return best_bias;
}

}  // namespace

Status add_class_bias(Model& model, const std::vector<float>& bias) {
  Graph& g = model.graph;
  if (g.outputs.size() != 1)
    return make_error(ErrorCode::kInvalidArgument, "class bias: the model has ", g.outputs.size(),
                      " outputs; it needs one (the logits)");
  const std::string out = g.outputs[0].name;
  const std::string raw = g.unique_name(out + ".before_class_bias");
  const std::string name = g.unique_name("class_bias");
  for (Node& node : g.nodes)
    for (std::string& o : node.outputs)
      if (o == out) o = raw;
  for (Node& node : g.nodes)
    for (std::string& in : node.inputs)
      if (in == out) in = raw;
  g.initializers[name] = Tensor::from_vector<float>({static_cast<int64_t>(bias.size())}, bias);
  Node add;
  add.name = name;
  add.op_type = "Add";
  add.inputs = {raw, name};
  add.outputs = {out};
  g.nodes.push_back(add);
  model.add_listed(kConstantsKey, {name});
  return g.sort_topologically();
}

Expected<std::vector<float>> fit_class_bias(Model& model, const data::Dataset& data,
                                            const std::vector<int>& classes) {
  data::LoaderOptions lo;
  lo.batch_size =
      std::min<int64_t>(engine::runnable_batch(model, 256), std::max<int64_t>(1, data.size()));
  lo.shuffle = false;
  RETORT_ASSIGN_OR_RETURN(auto loader, data::BatchLoader::create(data, lo));
  engine::PlanOptions po;
  po.batch = lo.batch_size;
  RETORT_ASSIGN_OR_RETURN(auto plan, engine::Plan::compile(model, po));
  const engine::View out = plan->output(0);
  const int64_t c = out.shape.back();
  std::vector<float> logits;
  std::vector<int32_t> labels;
  data::Batch b;
  while (loader->next(b)) {
    std::memcpy(plan->input(0).data, b.images,
                static_cast<size_t>(b.capacity * b.sample_numel()) * sizeof(float));
    plan->forward(false);
    logits.insert(logits.end(), out.data, out.data + b.size * c);
    labels.insert(labels.end(), b.labels, b.labels + b.size);
  }
  std::vector<float> bias(static_cast<size_t>(c), 0.0f);
  for (int cls : classes)
    if (cls < 0 || cls >= c)
      return make_error(ErrorCode::kInvalidArgument, "class bias: class ", cls, " is outside [0, ",
                        c, ")");
  // Coordinate ascent: each class's exact best bias given the others, twice over.
  for (int sweep = 0; sweep < 2; ++sweep)
    for (int cls : classes) bias[cls] = best_bias_for(logits, labels, c, bias, cls);
  return bias;
}

}  // namespace retort::distill
