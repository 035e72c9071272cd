// Measured inference speed of a model on this machine (never asserted in tests: reported).
#pragma once

#include <cstdint>
#include <utility>

#include "retort/core/status.h"
#include "retort/graph/model.h"

namespace retort::engine {

struct SpeedReport {
  double latency_ms_median = 0;  // one forward at `latency_batch`
  double latency_ms_p99 = 0;
  int64_t latency_batch = 1;  // 1, or the batch of a model that runs only at a fixed batch
  double throughput = 0;      // images/s at `throughput_batch`
  int64_t throughput_batch = 0;
  int threads = 0;  // OpenMP threads used
};

// Runs `warmup` then `iterations` forwards at batch 1 (latency) and at `throughput_batch`.
// QDQ models run on int8 kernels (PlanOptions::lower_int8). A model with a fixed batch
// (runnable_batch) is measured at that batch for both.
Expected<SpeedReport> measure_speed(Model& model, int iterations = 50,
                                    int64_t throughput_batch = 128, int warmup = 5);

// Two models measured back to back, alternating (a, b, three times), keeping each one's best
// latency and best throughput (the p99 of its best-latency round): timings on a shared machine
// drift, and measuring one model at the start of a stage and the other at its end compared
// different machine states. Used for before/after comparisons (pruning, quantization).
Expected<std::pair<SpeedReport, SpeedReport>> measure_speed_pair(Model& a, Model& b,
                                                                 int iterations = 30,
                                                                 int64_t throughput_batch = 128);

}  // namespace retort::engine
