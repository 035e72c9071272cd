// The reports of a `retort bench` run, rendered from bench.json alone (results.h): one
// Markdown file and one self-contained HTML page, each with per benchmark a table of every
// model (mean and standard deviation over seeds, the published number and its source, size,
// latency, throughput, links to the run folders and artifact hashes), and SVG plots drawn by
// retort/report: accuracy against size and against latency with the Pareto front marked, and
// the benchmark's sweeps (sparsity against accuracy, the assistant-size sweep).
#pragma once

#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace retort::bench {

struct BenchPlot {
  std::string file;  // "<benchmark>-<kind>.svg", unique within a report
  std::string title;
  std::string svg;  // a complete SVG document
};

// The plots of one benchmark entry of bench.json (none for a plot with fewer than 2 points).
std::vector<BenchPlot> benchmark_plots(const nlohmann::json& benchmark);

// Paths in bench.json (recipes, run folders) are relative to the working folder; links are
// written relative to `report_dir`, the folder the report is saved in. The Markdown report
// shows each plot from plots/<file> (write them there); the HTML page holds them inline.
std::string bench_markdown(const nlohmann::json& results, const std::string& report_dir);
std::string bench_html(const nlohmann::json& results, const std::string& report_dir);

}  // namespace retort::bench
