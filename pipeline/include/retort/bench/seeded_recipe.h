// One replication of a benchmark recipe: the recipe with its seed set (every stage without a
// seed of its own inherits it), and for a --quick smoke run, cut down to a small slice of the
// data and few epochs.
#pragma once

#include <cstdint>
#include <string>

#include "nlohmann/json.hpp"

namespace retort::bench {

struct QuickOptions {
  int64_t train_size = 2000;       // training images (at most)
  int64_t test_size = 1000;        // test images (at most)
  int64_t epochs = 1;              // every "epochs" in the stages' params, at most
  int64_t latency_iterations = 5;  // evaluate and prune stages' latency runs, at most
};

// The recipe with top-level "seed" = `seed`, and every export stage's "path" moved into
// `export_dir` (same file name), so that replications never write the same file; an empty
// `export_dir` leaves paths alone. With `quick`, also: data.train_size and data.test_size
// capped; every "epochs" anywhere in a stage's params capped (training, fine-tuning, QAT);
// "calibration_images" capped at the training slice; "latency_iterations" capped. Everything
// else (architectures, losses, schedules in fractions of the run) is kept, so the quick run
// exercises the same graph.
nlohmann::json recipe_for_seed(const nlohmann::json& recipe, uint64_t seed,
                               const QuickOptions* quick, const std::string& export_dir = "");

}  // namespace retort::bench
