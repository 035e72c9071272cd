// The run's summary: <out>/report.json (for programs), <out>/report.md and <out>/report.html
// (for people; the HTML page adds an accuracy-vs-size plot) and <out>/recipe.resolved.json
// (the recipe with every default filled in).
#pragma once

#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "retort/core/status.h"
#include "retort/exec/executor.h"
#include "retort/recipe/recipe.h"

namespace retort::exec {

// {"recipe", "out_dir", "ok", "cancelled", "retort": {version, commit}, "stages": [{id, type,
// status, seconds, metrics, error, retort_commit}]}; metrics and error are null when the stage
// has none, retort_commit is the build that computed the stage's result ("" if unknown).
nlohmann::json report_json(const recipe::Recipe& recipe, const RunResult& result);

// The build that wrote the report, then a table of stage, type, status, seconds and key
// metrics (accuracy, loss, sizes, latency...), then the errors in full.
std::string report_markdown(const recipe::Recipe& recipe, const RunResult& result);

// The same as one self-contained HTML page (report_html.cpp), with an accuracy-vs-size plot of
// every model that has both (the evaluate stages' models, else each stage's own result) and
// its Pareto front marked.
std::string report_html(const recipe::Recipe& recipe, const RunResult& result);

// A stage's status as the reports show it: "ran", "failed"...; a cached result computed by a
// build other than this one says which: "cached (commit 0123456789ab)".
std::string status_text(const StageOutcome& stage);

// "accuracy 0.8712, params 1,234,567": the metrics a reader scans for, in a fixed order; for
// per-model metrics ({"models": [{"name": ..., ...}]} or {"<name>": {...}}) one group per model.
std::string key_metrics(const nlohmann::json& metrics);

// The table of a stage whose metrics compare models with a `baseline` (the evaluate stage):
// column names, then per model its name and formatted accuracy, accuracy retained, bytes,
// compression, throughput, speed-up and latency ("" where a metric is missing). No rows when
// the metrics have no baseline. Rendered by both reports.
struct ComparisonTable {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
};
ComparisonTable baseline_comparison(const nlohmann::json& metrics);

// Writes the four files into result.out_dir, each atomically.
Status write_reports(const recipe::Recipe& recipe, const RunResult& result);

}  // namespace retort::exec
