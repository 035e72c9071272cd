// The run's report as one self-contained HTML page: the stage table, each comparison against a
// baseline, and an accuracy-vs-size plot of every measured model with the Pareto front marked
// (inline SVG drawn by retort/report, so the page opens offline).
#include <cmath>
#include <sstream>

#include "retort/core/build_info.h"
#include "retort/exec/report.h"
#include "retort/report/svg_plot.h"

namespace retort::exec {
namespace {

using report::xml_escape;

std::string fixed(double v, const char* format) {
  char text[64];
  std::snprintf(text, sizeof text, format, v);
  return text;
}

bool has_number(const nlohmann::json& m, const char* key) {
  return m.is_object() && m.contains(key) && m[key].is_number();
}

// Models with a size and an accuracy: those the evaluate stages compared, or else each
// stage's own result (a prune or quantize stage reports `bytes` and `test_accuracy`).
std::vector<report::PlotPoint> size_accuracy_points(const RunResult& result) {
  std::vector<report::PlotPoint> points;
  for (const StageOutcome& s : result.stages) {
    if (!s.metrics.is_object() || !s.metrics.contains("models") || !s.metrics["models"].is_array())
      continue;
    for (const nlohmann::json& m : s.metrics["models"])
      if (has_number(m, "bytes") && has_number(m, "accuracy"))
        points.push_back({m["bytes"].get<double>(), m["accuracy"].get<double>(),
                          m.value("name", std::string("?"))});
  }
  if (!points.empty()) return points;
  for (const StageOutcome& s : result.stages)
    if (has_number(s.metrics, "bytes") && has_number(s.metrics, "test_accuracy"))
      points.push_back(
          {s.metrics["bytes"].get<double>(), s.metrics["test_accuracy"].get<double>(), s.id});
  return points;
}

}  // namespace

std::string report_html(const recipe::Recipe& recipe, const RunResult& result) {
  const std::string name = recipe.name.empty() ? "recipe" : recipe.name;
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>retort run: "
    << xml_escape(name) << "</title>\n<style>\n"
    << "body{font-family:sans-serif;margin:2em;max-width:72em}"
       "table{border-collapse:collapse;margin:1em 0}"
       "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}"
       "td.n{text-align:right}.failed{color:#b00}\n"
    << "</style>\n</head>\n<body>\n<h1>retort run: " << xml_escape(name) << "</h1>\n";
  h << "<p>Output folder <code>" << xml_escape(result.out_dir) << "</code>";
  if (!recipe.path.empty()) h << ", recipe <code>" << xml_escape(recipe.path) << "</code>";
  h << ". Written by retort " << xml_escape(build_description()) << ".</p>\n";
  if (result.cancelled)
    h << "<p><strong>The run was cancelled</strong>; rerun the recipe to resume.</p>\n";

  h << "<h2>Stages</h2>\n<table>\n<tr><th>stage</th><th>type</th><th>status</th><th>seconds</th>"
       "<th>key metrics</th></tr>\n";
  for (const StageOutcome& s : result.stages) {
    const bool failed = s.status == StageStatus::kFailed;
    h << "<tr" << (failed ? " class=\"failed\"" : "") << "><td>" << xml_escape(s.id) << "</td><td>"
      << xml_escape(s.type) << "</td><td>" << xml_escape(status_text(s)) << "</td><td class=\"n\">"
      << fixed(s.seconds, "%.1f") << "</td><td>"
      << xml_escape(failed ? s.error : key_metrics(s.metrics)) << "</td></tr>\n";
  }
  h << "</table>\n";

  for (const StageOutcome& s : result.stages) {
    const ComparisonTable table = baseline_comparison(s.metrics);
    if (table.rows.empty()) continue;
    h << "<h2>" << xml_escape(s.id) << ": every model against "
      << xml_escape(s.metrics["baseline"].get<std::string>()) << "</h2>\n<table>\n<tr>";
    for (const std::string& c : table.columns) h << "<th>" << xml_escape(c) << "</th>";
    h << "</tr>\n";
    for (const std::vector<std::string>& row : table.rows) {
      h << "<tr><td>" << xml_escape(row[0]) << "</td>";
      for (size_t c = 1; c < row.size(); ++c)
        h << "<td class=\"n\">" << xml_escape(row[c]) << "</td>";
      h << "</tr>\n";
    }
    h << "</table>\n";
  }

  const std::vector<report::PlotPoint> points = size_accuracy_points(result);
  if (!points.empty()) {
    report::PlotOptions o;
    o.title = "Accuracy against size on disk";
    o.x_label = "bytes (log scale)";
    o.y_label = "test accuracy";
    o.log_x = true;
    o.mark_pareto = true;
    std::string svg = report::svg_plot({{"models", points, false}}, o);
    if (svg.rfind("<?xml", 0) == 0) svg.erase(0, svg.find('\n') + 1);  // inline: no prolog
    h << "<h2>Accuracy against size</h2>\n" << svg << "\n";
    h << "<p>Ringed points are on the Pareto front (nothing both smaller and more accurate).</p>\n";
  }
  h << "</body>\n</html>\n";
  return h.str();
}

}  // namespace retort::exec
