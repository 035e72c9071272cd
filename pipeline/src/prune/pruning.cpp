#include "retort/prune/pruning.h"

#include <algorithm>
#include <chrono>
#include <functional>

namespace retort::prune {

int64_t fine_tune_steps(const data::Dataset& train, const engine::TrainOptions& options) {
  const int64_t n = train.size();
  const int64_t per_epoch = n >= options.batch ? n / options.batch : 1;
  return per_epoch * options.epochs;
}

Expected<engine::TrainSummary> fine_tune(Model& model, const data::Dataset& train,
                                         const FineTune& ft,
                                         std::function<void(int64_t)> after_step,
                                         const MaskSet* masks) {
  std::function<void(std::span<const engine::Parameter>)> before_update;
  if (masks != nullptr)
    before_update = [masks](std::span<const engine::Parameter> p) { masks->mask_gradients(p); };
  if (ft.teachers.empty()) {
    engine::TrainOptions o = ft.options.train;
    o.after_step = std::move(after_step);
    o.before_update = std::move(before_update);
    return engine::train_classifier(model, train, o);
  }
  distill::DistillOptions o = ft.options;
  o.train.after_step = std::move(after_step);
  o.train.before_update = std::move(before_update);
  RETORT_ASSIGN_OR_RETURN(distill::DistillSummary s,
                          distill::distill(model, ft.teachers, train, o));
  return s.train;
}

namespace {

PruneRound round_of(double target, const MaskSet& masks, const engine::TrainSummary& t) {
  PruneRound r;
  r.target = target;
  r.sparsity = masks.sparsity();
  if (!t.epochs.empty()) {
    r.train_loss = t.epochs.back().loss;
    r.train_accuracy = t.epochs.back().accuracy;
  }
  return r;
}

}  // namespace

Expected<PruneSummary> prune_and_fine_tune(Model& model, PruneConfig config,
                                           const data::Dataset& train, const FineTune& ft,
                                           const std::string& where) {
  if (config.method == Method::kStructured)
    return make_error(ErrorCode::kInternal, "structured pruning goes through prune_channels");
  PruneSummary summary;
  RETORT_ASSIGN_OR_RETURN(std::vector<PrunableLayer> layers,
                          select_layers(model, config.layers, where + "/layers"));
  if (config.method == Method::kNm) {
    std::vector<PrunableLayer> fits;
    for (const PrunableLayer& l : layers) {
      if (nm_fits(l, config.nm)) {
        fits.push_back(l);
      } else if (!config.layers.empty()) {
        return make_error(ErrorCode::kInvalidArgument, where, "/layers: layer '", l.node, "' has ",
                          l.inputs, " inputs per output, not a multiple of M = ", config.nm.m,
                          "; it cannot take a ", config.nm.n, ":", config.nm.m, " pattern");
      } else {
        summary.skipped.push_back(l.node);
      }
    }
    if (fits.empty())
      return make_error(ErrorCode::kInvalidArgument, where,
                        "/nm: no layer's input dimension is a "
                        "multiple of M = ",
                        config.nm.m, " (layers: ", layer_names(layers), ")");
    layers = std::move(fits);
  }
  summary.layers = layers;
  RETORT_ASSIGN_OR_RETURN(MaskSet masks, MaskSet::create(model, layers));
  const auto start = std::chrono::steady_clock::now();
  auto enforce = [&masks](int64_t) { masks.apply(); };

  if (config.method == Method::kNm) {
    for (LayerMask& m : masks.layers()) compute_nm_mask(m, config.nm);
    masks.apply();
    ++summary.mask_updates;
    RETORT_ASSIGN_OR_RETURN(engine::TrainSummary t, fine_tune(model, train, ft, enforce, &masks));
    summary.steps += t.steps;
    masks.apply();
    summary.rounds.push_back(
        round_of(static_cast<double>(config.nm.m - config.nm.n) / config.nm.m, masks, t));
  } else {
    RETORT_ASSIGN_OR_RETURN(MagnitudePruner pruner,
                            MagnitudePruner::create(masks, config.magnitude, where + "/magnitude"));
    // A round's target as reported: the quality with Han's rule, else the sparsity over all
    // pruned weights that the round's per-layer targets give (weighted by layer size).
    auto planned = [&](auto&& target_now) {
      if (config.magnitude.han_rule)
        return target_now(static_cast<double>(config.magnitude.quality));
      double pruned = 0, total = 0;
      for (size_t i = 0; i < pruner.layer_count(); ++i) {
        const double n = static_cast<double>(masks.layers()[i].keep.size());
        pruned += target_now(pruner.final_target(i)) * n;
        total += n;
      }
      return total > 0 ? pruned / total : 0.0;
    };
    const double headline = planned([](double f) { return f; });
    if (config.schedule == ScheduleKind::kOneShot) {
      pruner.update_final();
      masks.apply();
      ++summary.mask_updates;
      RETORT_ASSIGN_OR_RETURN(engine::TrainSummary t, fine_tune(model, train, ft, enforce, &masks));
      summary.steps += t.steps;
      summary.rounds.push_back(round_of(headline, masks, t));
    } else if (config.schedule == ScheduleKind::kIterative) {
      const bool han = config.magnitude.han_rule;
      for (int k = 1; k <= config.rounds; ++k) {
        // Han's rule: the quality grows linearly; sparsity targets: equal fractions of what is
        // left (see sparsity_schedule.h).
        pruner.update([&](double f) {
          return han ? f * k / config.rounds : iterative_sparsity(f, k, config.rounds);
        });
        masks.apply();
        ++summary.mask_updates;
        FineTune round_ft = ft;
        round_ft.options.train.seed = ft.options.train.seed + static_cast<uint64_t>(k - 1);
        RETORT_ASSIGN_OR_RETURN(engine::TrainSummary t,
                                fine_tune(model, train, round_ft, enforce, &masks));
        summary.steps += t.steps;
        summary.rounds.push_back(round_of(planned([&](double f) {
                                            return han ? f * k / config.rounds
                                                       : iterative_sparsity(f, k, config.rounds);
                                          }),
                                          masks, t));
      }
    } else {  // gradual
      const int64_t total = fine_tune_steps(train, ft.options.train);
      resolve_schedule(config, total);
      RETORT_RETURN_IF_ERROR(config.cubic.check(where + "/schedule"));
      const CubicSchedule cubic = config.cubic;
      int64_t updates = 0, last_update = -1;
      auto at_step = [&](int64_t t) {
        if (cubic.is_update_step(t)) {
          pruner.update([&](double f) { return cubic.sparsity(f, t); });
          ++updates;
          last_update = t;
        }
        masks.apply();
      };
      at_step(0);  // start_step 0: the initial sparsity before the first step
      RETORT_ASSIGN_OR_RETURN(engine::TrainSummary t, fine_tune(model, train, ft, at_step, &masks));
      summary.steps += t.steps;
      if (last_update < cubic.end_step) {  // training ended first: the final masks still hold
        pruner.update_final();
        masks.apply();
        ++updates;
      }
      summary.mask_updates += updates;
      summary.cubic = cubic;
      summary.rounds.push_back(round_of(headline, masks, t));
    }
  }
  masks.apply();
  summary.train_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace retort::prune
