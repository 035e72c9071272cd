// What `retort bench` measured, as the JSON behind its reports (bench.json): per benchmark,
// one row per model with each metric's mean and standard deviation over the seeds, the
// published number beside it, and the run folders and artifact hashes that produced it.
//
// bench.json:
//   {"retort_version", "retort_commit" (the build that wrote the report), "date", "command",
//    "quick", "seeds": [1, 2, 3],
//    "machine": {"cpu", "cores", "threads", "load_start", "load_end"},
//    "benchmarks": [{"name", "recipe", "source", "ok",
//      "runs": [{"seed", "folder", "ok", "seconds" (this invocation), "ran", "cached", "failed",
//                "error", "computed_from", "computed_to" (its stages' first and last manifest
//                times: when the results were computed, even if served from the cache now),
//                "computed_by" (the commits of the builds that computed them, from the same
//                manifests)}],
//      "rows": [{"model", "published" (or null), "accuracy"/"bytes"/"parameters"/"sparsity"/
//                "latency_ms"/"throughput"/"accuracy_retained"/"compression_ratio"/
//                "speedup": {"mean", "std", "n", "values"} or null,
//                "artifacts": [{"seed", "folder", "hash"}]}],
//      "sweeps": [{"title", "x_label", "series": [{"name",
//                  "points": [{"model", "x", "accuracy": {...}}]}]}],
//      "problems": ["..."]}]}
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "retort/bench/suite.h"

namespace retort::bench {

// One seed's run of a benchmark recipe.
struct SeedRun {
  uint64_t seed = 0;
  std::string folder;  // the run folder (holds report.json and a folder per stage)
  bool ok = false;
  double seconds = 0;
  int ran = 0, cached = 0, failed = 0;
  std::string error;  // why the run did not complete, if it did not
};

// The metrics of a row, with the key each has in an evaluate stage's per-model metrics (the
// last three only when it compares with a baseline: percent of its accuracy, times smaller,
// times its throughput).
inline constexpr const char* kRowMetrics[] = {
    "accuracy",   "bytes",      "parameters",        "sparsity",
    "latency_ms", "throughput", "accuracy_retained", "compression_ratio",
    "speedup"};

// {"mean", "std" (sample, 0 for one value), "n", "values"}; null when there are no values.
nlohmann::json summarize(const std::vector<double>& values);

// A benchmark's entry of bench.json, read from its seed runs' folders: every model an evaluate
// stage measured (its name without the ".model" port), then every other stage that reports a
// test accuracy. A seed whose run failed contributes the models it finished.
nlohmann::json collect_benchmark(const BenchmarkSpec& spec, const std::vector<SeedRun>& runs);

// {"cpu": "<model name from /proc/cpuinfo>", "cores": N, "threads": T}.
nlohmann::json machine_json(int threads);

// The one-minute load average (/proc/loadavg), or -1 when unknown. Speeds measured while it
// is above the threads used were measured on a shared machine.
double load_average();

}  // namespace retort::bench
