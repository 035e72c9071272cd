// Scatter and line plots as self-contained SVG, drawn by the project itself (reports must open
// offline, with no plotting service): accuracy against size, latency or sparsity, with the
// Pareto front marked.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace retort::report {

struct PlotPoint {
  double x = 0;
  double y = 0;
  std::string label;  // shown beside the point when not empty
};

struct PlotSeries {
  std::string name;  // legend entry
  std::vector<PlotPoint> points;
  bool connect = true;  // a line through the points in the given order, else markers only
};

struct PlotOptions {
  std::string title;
  std::string x_label;
  std::string y_label;
  bool log_x = false;  // sizes and latencies span decades
  // Ring the points on the Pareto front of all series together (smaller x and larger y are
  // better: accuracy against size or latency) and join them with a dashed step line.
  bool mark_pareto = false;
  int width = 640;
  int height = 420;
};

// The plot as a complete SVG document. Non-finite points (and x <= 0 with log_x) are left out.
std::string svg_plot(const std::vector<PlotSeries>& series, const PlotOptions& options);

// Indices of the points that no other point dominates (x <= and y >=, one of them strictly),
// sorted by x. Equal points are all on the front.
std::vector<size_t> pareto_front(const std::vector<PlotPoint>& points);

// About `target` round tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

// Text made safe for SVG/XML character data and attribute values.
std::string xml_escape(const std::string& text);

}  // namespace retort::report
