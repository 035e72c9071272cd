// The benchmark suite file (recipes/benchmarks/suite.json): which recipes `retort bench` runs,
// the published results each one is compared with (the source named), and the sweep plots
// drawn from its models.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "retort/core/status.h"

namespace retort::bench {

// One point of a sweep: a model of the recipe and its x value (e.g. an assistant's depth).
struct SweepPoint {
  std::string model;  // a model name as the recipe's evaluate stage reports it ("ta8")
  double x = 0;
};

struct SweepSeries {
  std::string name;  // legend entry
  std::vector<SweepPoint> points;
};

// A line plot of mean accuracy against a declared x value, or against a measured metric of
// each model (x_metric, e.g. "sparsity") when that is set.
struct SweepPlot {
  std::string title;
  std::string x_label;
  std::string x_metric;  // empty: the points' declared x
  std::vector<SweepSeries> series;
};

struct BenchmarkSpec {
  std::string name;                              // "hinton"
  std::string recipe;                            // path, resolved against the suite file's folder
  std::string source;                            // the paper the published numbers come from
  std::map<std::string, std::string> published;  // model name -> the paper's number, as text
  std::vector<SweepPlot> sweeps;
};

struct Suite {
  std::string path;
  std::vector<BenchmarkSpec> benchmarks;
  const BenchmarkSpec* find(const std::string& name) const;
};

// Reads and checks a suite file. Errors name the file and the JSON path of the problem
// ("suite.json: /benchmarks/2/recipe: no such file 'x.json'"); every recipe must exist.
Expected<Suite> load_suite(const std::string& path);
Expected<Suite> parse_suite(const std::string& text, const std::string& origin_path);

}  // namespace retort::bench
