#include "retort/engine/speed.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "retort/engine/plan.h"

namespace retort::engine {
namespace {

std::vector<double> time_forwards(Plan& plan, int iterations, int warmup) {
  for (int i = 0; i < warmup; ++i) plan.forward(false);
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(iterations));
  for (int i = 0; i < iterations; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    plan.forward(false);
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms;
}

}  // namespace

Expected<SpeedReport> measure_speed(Model& model, int iterations, int64_t throughput_batch,
                                    int warmup) {
  if (iterations < 1)
    return make_error(ErrorCode::kInvalidArgument, "speed: iterations must be >= 1");
  SpeedReport r;
  r.threads = omp_get_max_threads();
  throughput_batch = runnable_batch(model, throughput_batch);
  r.throughput_batch = throughput_batch;
  r.latency_batch = runnable_batch(model, 1);
  {
    PlanOptions o;
    o.batch = r.latency_batch;
    o.lower_int8 = true;
    o.share_buffers = true;  // nothing is read back: hold the live values, not all of them
    RETORT_ASSIGN_OR_RETURN(auto plan, Plan::compile(model, o));
    auto ms = time_forwards(*plan, iterations, warmup);
    r.latency_ms_median = ms[ms.size() / 2];
    r.latency_ms_p99 = ms[std::min(ms.size() - 1, static_cast<size_t>(ms.size() * 0.99))];
  }
  {
    PlanOptions o;
    o.batch = throughput_batch;
    o.lower_int8 = true;
    o.share_buffers = true;  // nothing is read back: hold the live values, not all of them
    RETORT_ASSIGN_OR_RETURN(auto plan, Plan::compile(model, o));
    auto ms = time_forwards(*plan, std::max(3, iterations / 5), 2);
    r.throughput = static_cast<double>(throughput_batch) / (ms[ms.size() / 2] / 1000.0);
  }
  return r;
}

Expected<std::pair<SpeedReport, SpeedReport>> measure_speed_pair(Model& a, Model& b, int iterations,
                                                                 int64_t throughput_batch) {
  SpeedReport best[2];
  for (int round = 0; round < 3; ++round)
    for (int which = 0; which < 2; ++which) {
      RETORT_ASSIGN_OR_RETURN(SpeedReport r,
                              measure_speed(which == 0 ? a : b, iterations, throughput_batch));
      SpeedReport& m = best[which];
      if (round == 0 || r.latency_ms_median < m.latency_ms_median) {
        m.latency_ms_median = r.latency_ms_median;
        m.latency_ms_p99 = r.latency_ms_p99;
      }
      if (round == 0 || r.throughput > m.throughput) m.throughput = r.throughput;
      m.throughput_batch = r.throughput_batch;
      m.latency_batch = r.latency_batch;
      m.threads = r.threads;
    }
  return std::make_pair(best[0], best[1]);
}

}  // namespace retort::engine
