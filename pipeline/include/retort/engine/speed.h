// Measured inference speed of a model on this machine (never asserted in tests: reported).
#pragma once

#include <cstdint>

#include "retort/core/status.h"
#include "retort/graph/model.h"

namespace retort::engine {

struct SpeedReport {
  double latency_ms_median = 0;  // batch 1, one forward
  double latency_ms_p99 = 0;
  double throughput = 0;         // images/s at `throughput_batch`
  int64_t throughput_batch = 0;
  int threads = 0;               // OpenMP threads used
};

// Runs `warmup` then `iterations` forwards at batch 1 (latency) and at `throughput_batch`.
// QDQ models run on int8 kernels (PlanOptions::lower_int8).
Expected<SpeedReport> measure_speed(Model& model, int iterations = 50, int64_t throughput_batch = 128,
                                    int warmup = 5);

}  // namespace retort::engine
