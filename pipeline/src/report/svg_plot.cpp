#include "retort/report/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

namespace retort::report {
namespace {

// A colour-blind-safe palette (Okabe and Ito).
constexpr const char* kColours[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                    "#E69F00", "#56B4E9", "#F0E442", "#000000"};

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

// Tick text: as short as the tick spacing allows ("0.85", "1e+06" for large sizes).
std::string tick_text(double v, double step) {
  char buf[32];
  if (std::fabs(v) >= 1e6 || (v != 0 && std::fabs(v) < 1e-3)) {
    std::snprintf(buf, sizeof buf, "%.3g", v);
  } else {
    const int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
    std::snprintf(buf, sizeof buf, "%.*f", std::clamp(decimals, 0, 6), v);
  }
  return buf;
}

bool usable(const PlotPoint& p, bool log_x) {
  return std::isfinite(p.x) && std::isfinite(p.y) && (!log_x || p.x > 0);
}

struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  double pixel_lo = 0, pixel_hi = 1;
  double map(double v) const {
    const double a = log ? std::log10(v) : v;
    const double b = log ? std::log10(lo) : lo;
    const double c = log ? std::log10(hi) : hi;
    return pixel_lo + (a - b) / (c - b) * (pixel_hi - pixel_lo);
  }
};

// Data range widened so that no point sits on the frame, and never empty.
void fit_range(double lo, double hi, bool log, double& out_lo, double& out_hi) {
  if (log) {
    double a = std::log10(lo), b = std::log10(hi);
    if (b - a < 1e-9) a -= 0.5, b += 0.5;
    const double pad = (b - a) * 0.05;
    out_lo = std::pow(10.0, a - pad);
    out_hi = std::pow(10.0, b + pad);
    return;
  }
  if (hi - lo < 1e-12) {
    const double d = lo == 0 ? 1 : std::fabs(lo) * 0.05;
    lo -= d, hi += d;
  }
  const double pad = (hi - lo) * 0.05;
  out_lo = lo - pad;
  out_hi = hi + pad;
}

std::vector<double> log_ticks(double lo, double hi) {
  std::vector<double> ticks;
  for (double p = std::floor(std::log10(lo)); p <= std::ceil(std::log10(hi)); ++p)
    for (double m : {1.0, 2.0, 5.0}) {
      const double v = m * std::pow(10.0, p);
      if (v >= lo && v <= hi) ticks.push_back(v);
    }
  return ticks;
}

// Point labels (10 px font, about 6 px per character). Each goes up and right of its point, or
// up and left when it would run past the plot area's right edge (into the legend); when it
// would overlap a label placed before, it tries 11 px steps down and up (six each way), so the
// labels of coincident points stack instead of printing over each other.
class LabelPlacer {
 public:
  struct Placement {
    double x, y;  // text anchor and baseline
    bool anchor_end;
  };
  LabelPlacer(double right_edge, double top_edge, double bottom_edge)
      : right_(right_edge), top_(top_edge), bottom_(bottom_edge) {}

  Placement place(double px, double py, size_t chars) {
    const double width = 6.0 * static_cast<double>(chars);
    const bool end = px + 6 + width > right_;
    const double x0 = end ? px - 6 - width : px + 6;
    static constexpr double kSteps[] = {0, 11, -11, 22, -22, 33, -33, 44, -44, 55, -55, 66, -66};
    double chosen = py - 6;
    for (double dy : kSteps) {
      const double y = py - 6 + dy;
      if (y - 9 < top_ || y + 2 > bottom_) continue;
      const Box box{x0, y - 9, x0 + width, y + 2};
      if (std::none_of(placed_.begin(), placed_.end(),
                       [&](const Box& b) { return overlaps(b, box); })) {
        chosen = y;
        break;
      }
    }
    placed_.push_back(Box{x0, chosen - 9, x0 + width, chosen + 2});
    return Placement{end ? px - 6 : px + 6, chosen, end};
  }

 private:
  struct Box {
    double x0, y0, x1, y1;
  };
  static bool overlaps(const Box& a, const Box& b) {
    return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
  }
  double right_, top_, bottom_;
  std::vector<Box> placed_;
};

}  // namespace

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo) || target < 1) return {lo};
  // Of the round steps near the raw one, the one giving the tick count closest to `target`.
  const double raw = (hi - lo) / target;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  double step = power;
  double best = std::numeric_limits<double>::infinity();
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    const double miss = std::fabs((hi - lo) / (m * power) - target);
    if (miss < best - 1e-9) best = miss, step = m * power;
  }
  // Multiples of the step, rounded to its decimals so that 3 * 0.2 prints and compares as 0.6.
  const double scale = std::pow(10.0, std::max(0.0, -std::floor(std::log10(step))));
  std::vector<double> ticks;
  const auto first = static_cast<int64_t>(std::ceil(lo / step - 1e-9));
  const auto last = static_cast<int64_t>(std::floor(hi / step + 1e-9));
  for (int64_t k = first; k <= last; ++k)
    ticks.push_back(std::round(static_cast<double>(k) * step * scale) / scale);
  return ticks;
}

std::vector<size_t> pareto_front(const std::vector<PlotPoint>& points) {
  std::vector<size_t> order(points.size());
  std::iota(order.begin(), order.end(), 0);
  // By x ascending, then y descending: a point is on the front when its y beats every y seen
  // before it (those have smaller or equal x), or ties the best at the same x and y.
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (points[a].x != points[b].x) return points[a].x < points[b].x;
    return points[a].y > points[b].y;
  });
  std::vector<size_t> front;
  double best_y = -std::numeric_limits<double>::infinity();
  double best_x = std::numeric_limits<double>::quiet_NaN();
  for (size_t i : order) {
    const PlotPoint& p = points[i];
    if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
    const bool same_as_best = !front.empty() && p.y == best_y && p.x == best_x;
    if (p.y > best_y || same_as_best) {
      front.push_back(i);
      best_y = p.y;
      best_x = p.x;
    }
  }
  return front;
}

constexpr double kLegendCharWidth = 7.2;

// `name`, cut to `chars` characters ending in "..." when longer (UTF-8 continuation bytes are
// not split).
std::string fit_legend(const std::string& name, size_t chars) {
  if (name.size() <= chars || chars < 4) return name;
  size_t cut = chars - 3;
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
  return name.substr(0, cut) + "...";
}

std::string svg_plot(const std::vector<PlotSeries>& series, const PlotOptions& options) {
  const double w = options.width, h = options.height;
  const bool legend = series.size() > 1 || options.mark_pareto;
  // The legend column fits its longest entry (at most half the width), at about 7 px per
  // character of the 12 px font: 0.6 em is a wide sans-serif average.
  size_t longest = options.mark_pareto ? std::strlen("Pareto front") : 0;
  for (const PlotSeries& s : series) longest = std::max(longest, s.name.size());
  const double legend_width =
      std::clamp(24.0 + kLegendCharWidth * static_cast<double>(longest) + 6.0, 150.0, w / 2);
  const double left = 70, right = 20 + (legend ? legend_width : 0), top = 40, bottom = 55;
  // Characters that fit beside the marker; longer names are cut (the full name is the title).
  const auto legend_chars = static_cast<size_t>((legend_width - 30.0) / kLegendCharWidth);

  std::vector<PlotPoint> all;
  for (const PlotSeries& s : series)
    for (const PlotPoint& p : s.points)
      if (usable(p, options.log_x)) all.push_back(p);
  double xlo = 0, xhi = 1, ylo = 0, yhi = 1;
  if (!all.empty()) {
    auto [xmin, xmax] =
        std::minmax_element(all.begin(), all.end(), [](auto& a, auto& b) { return a.x < b.x; });
    auto [ymin, ymax] =
        std::minmax_element(all.begin(), all.end(), [](auto& a, auto& b) { return a.y < b.y; });
    fit_range(xmin->x, xmax->x, options.log_x, xlo, xhi);
    fit_range(ymin->y, ymax->y, false, ylo, yhi);
  } else if (options.log_x) {
    xlo = 1, xhi = 10;
  }
  Axis x{xlo, xhi, options.log_x, left, w - right};
  Axis y{ylo, yhi, false, h - bottom, top};

  std::string svg;
  svg += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(w) + "\" height=\"" + num(h) +
         "\" viewBox=\"0 0 " + num(w) + " " + num(h) +
         "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  if (!options.title.empty())
    svg += "<text x=\"" + num(w / 2) + "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" +
           xml_escape(options.title) + "</text>\n";

  // Grid and ticks.
  const std::vector<double> xticks = options.log_x ? log_ticks(xlo, xhi) : nice_ticks(xlo, xhi);
  const std::vector<double> yticks = nice_ticks(ylo, yhi);
  const double xstep = xticks.size() > 1 ? xticks[1] - xticks[0] : 1;
  const double ystep = yticks.size() > 1 ? yticks[1] - yticks[0] : 1;
  svg += "<g class=\"grid\" stroke=\"#dddddd\">\n";
  for (double t : xticks)
    svg += "<line x1=\"" + num(x.map(t)) + "\" y1=\"" + num(top) + "\" x2=\"" + num(x.map(t)) +
           "\" y2=\"" + num(h - bottom) + "\"/>\n";
  for (double t : yticks)
    svg += "<line x1=\"" + num(left) + "\" y1=\"" + num(y.map(t)) + "\" x2=\"" + num(w - right) +
           "\" y2=\"" + num(y.map(t)) + "\"/>\n";
  svg += "</g>\n";
  svg += "<rect x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" + num(w - right - left) +
         "\" height=\"" + num(h - bottom - top) + "\" fill=\"none\" stroke=\"#333333\"/>\n";
  svg += "<g class=\"ticks\" fill=\"#333333\">\n";
  for (double t : xticks)
    svg += "<text x=\"" + num(x.map(t)) + "\" y=\"" + num(h - bottom + 16) +
           "\" text-anchor=\"middle\">" + tick_text(t, options.log_x ? t : xstep) + "</text>\n";
  for (double t : yticks)
    svg += "<text x=\"" + num(left - 6) + "\" y=\"" + num(y.map(t) + 4) +
           "\" text-anchor=\"end\">" + tick_text(t, ystep) + "</text>\n";
  svg += "</g>\n";
  svg += "<text x=\"" + num((left + w - right) / 2) + "\" y=\"" + num(h - 14) +
         "\" text-anchor=\"middle\">" + xml_escape(options.x_label) + "</text>\n";
  svg += "<text transform=\"translate(16 " + num((top + h - bottom) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + xml_escape(options.y_label) + "</text>\n";

  // Series.
  LabelPlacer labels(w - right, top, h - bottom);
  for (size_t s = 0; s < series.size(); ++s) {
    const char* colour = kColours[s % std::size(kColours)];
    svg += "<g class=\"series\" data-name=\"" + xml_escape(series[s].name) + "\" fill=\"" + colour +
           "\" stroke=\"" + colour + "\">\n";
    std::string line;
    for (const PlotPoint& p : series[s].points) {
      if (!usable(p, options.log_x)) continue;
      if (!line.empty()) line += ' ';
      line += num(x.map(p.x)) + "," + num(y.map(p.y));
    }
    if (series[s].connect && !line.empty())
      svg += "<polyline fill=\"none\" stroke-width=\"1.5\" points=\"" + line + "\"/>\n";
    for (const PlotPoint& p : series[s].points) {
      if (!usable(p, options.log_x)) continue;
      svg += "<circle class=\"point\" cx=\"" + num(x.map(p.x)) + "\" cy=\"" + num(y.map(p.y)) +
             "\" r=\"3.5\"><title>" + xml_escape(p.label.empty() ? series[s].name : p.label) +
             "</title></circle>\n";
      if (!p.label.empty()) {
        const LabelPlacer::Placement at = labels.place(x.map(p.x), y.map(p.y), p.label.size());
        svg += "<text x=\"" + num(at.x) + "\" y=\"" + num(at.y) + "\"" +
               (at.anchor_end ? " text-anchor=\"end\"" : "") +
               " stroke=\"none\" font-size=\"10\">" + xml_escape(p.label) + "</text>\n";
      }
    }
    svg += "</g>\n";
  }

  if (options.mark_pareto && !all.empty()) {
    const std::vector<size_t> front = pareto_front(all);
    std::string steps;
    for (size_t k = 0; k < front.size(); ++k) {
      const PlotPoint& p = all[front[k]];
      // A step: across at the previous point's height, then up to this point.
      if (k > 0) {
        steps += ' ';
        steps += num(x.map(p.x)) + "," + num(y.map(all[front[k - 1]].y));
        steps += ' ';
      }
      steps += num(x.map(p.x)) + "," + num(y.map(p.y));
    }
    svg += "<g class=\"pareto\" fill=\"none\" stroke=\"#333333\">\n";
    svg += "<polyline stroke-dasharray=\"4 3\" points=\"" + steps + "\"/>\n";
    for (size_t i : front)
      svg += "<circle class=\"pareto-point\" cx=\"" + num(x.map(all[i].x)) + "\" cy=\"" +
             num(y.map(all[i].y)) + "\" r=\"7\"/>\n";
    svg += "</g>\n";
  }

  // Legend, right of the plot.
  if (legend) {
    double ly = top + 8;
    svg += "<g class=\"legend\">\n";
    for (size_t s = 0; s < series.size(); ++s, ly += 18) {
      const char* colour = kColours[s % std::size(kColours)];
      svg += "<circle cx=\"" + num(w - right + 14) + "\" cy=\"" + num(ly) + "\" r=\"4\" fill=\"" +
             colour + "\"/>\n";
      svg += "<text x=\"" + num(w - right + 24) + "\" y=\"" + num(ly + 4) + "\">" +
             xml_escape(fit_legend(series[s].name, legend_chars)) + "<title>" +
             xml_escape(series[s].name) + "</title></text>\n";
    }
    if (options.mark_pareto)
      svg += "<circle cx=\"" + num(w - right + 14) + "\" cy=\"" + num(ly) +
             "\" r=\"7\" fill=\"none\" stroke=\"#333333\"/>\n<text x=\"" + num(w - right + 24) +
             "\" y=\"" + num(ly + 4) + "\">Pareto front</text>\n";
    svg += "</g>\n";
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace retort::report
