#include "retort/distill/ensemble.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "retort/data/batch_loader.h"
#include "retort/engine/plan.h"
#include "retort/engine/trainer.h"

namespace retort::distill {

Expected<engine::EvalResult> evaluate_ensemble(std::span<Model* const> members,
                                               const data::Dataset& test, int64_t batch) {
  if (members.empty())
    return make_error(ErrorCode::kInvalidArgument, "an ensemble needs at least one model");
  if (test.size() == 0)
    return make_error(ErrorCode::kInvalidArgument, "dataset '", test.name,
                      "' has no images to evaluate the ensemble on; give a \"test_size\" of at "
                      "least 1 (or leave it out to use every image)");
  data::LoaderOptions lo;
  lo.batch_size = std::min<int64_t>(batch, std::max<int64_t>(1, test.size()));
  lo.shuffle = false;
  RETORT_ASSIGN_OR_RETURN(auto loader, data::BatchLoader::create(test, lo));
  std::vector<std::unique_ptr<engine::Plan>> plans;
  for (size_t m = 0; m < members.size(); ++m) {
    RETORT_RETURN_IF_ERROR(engine::check_fixed_batch(*members[m], lo.batch_size)
                               .with_context("ensemble member " + std::to_string(m)));
    engine::PlanOptions po;
    po.batch = lo.batch_size;
    RETORT_ASSIGN_OR_RETURN(auto plan, engine::Plan::compile(*members[m], po));
    if (plan->output(0).shape.size() != 2 ||
        plan->output(0).shape != (plans.empty() ? plan : plans[0])->output(0).shape)
      return make_error(ErrorCode::kInvalidArgument, "ensemble member ", m, " outputs ",
                        shape_to_string(plan->output(0).shape),
                        "; every member must output the same [N, classes]");
    plans.push_back(std::move(plan));
  }
  const int64_t classes = plans[0]->output(0).shape[1];
  if (classes < test.num_classes)
    return make_error(ErrorCode::kInvalidArgument, "the ensemble has ", classes, " outputs but '",
                      test.name, "' has ", test.num_classes, " classes");
  std::vector<double> probs(static_cast<size_t>(classes));
  std::vector<int64_t> total(classes, 0), hits(classes, 0);
  engine::EvalResult result;
  double loss = 0;
  int64_t correct = 0;
  data::Batch b;
  while (loader->next(b)) {
    for (auto& plan : plans) {
      std::memcpy(plan->input(0).data, b.images,
                  static_cast<size_t>(b.capacity * b.sample_numel()) * sizeof(float));
      plan->forward(false);
    }
    for (int64_t i = 0; i < b.size; ++i) {
      std::fill(probs.begin(), probs.end(), 0.0);
      for (auto& plan : plans) {
        const float* row = plan->output(0).data + i * classes;
        double mx = -INFINITY, sum = 0;
        for (int64_t c = 0; c < classes; ++c) mx = std::max(mx, static_cast<double>(row[c]));
        for (int64_t c = 0; c < classes; ++c) sum += std::exp(row[c] - mx);
        for (int64_t c = 0; c < classes; ++c)
          probs[c] += std::exp(row[c] - mx) / sum / plans.size();
      }
      const int64_t best = std::max_element(probs.begin(), probs.end()) - probs.begin();
      const int32_t label = b.labels[i];
      loss -= std::log(std::max(probs[label], 1e-300));
      ++total[label];
      hits[label] += best == label;
      correct += best == label;
    }
    result.count += b.size;
  }
  result.accuracy = result.count ? static_cast<double>(correct) / result.count : 0.0;
  result.loss = result.count ? loss / result.count : 0.0;
  for (int64_t c = 0; c < classes; ++c)
    result.per_class_accuracy.push_back(total[c] ? static_cast<double>(hits[c]) / total[c]
                                                 : std::numeric_limits<double>::quiet_NaN());
  return result;
}

}  // namespace retort::distill
