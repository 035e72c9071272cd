#include "retort/report/svg_plot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <string>
#include <tuple>
#include <vector>

#include "support/xml_check.h"

namespace retort::report {
namespace {

using test_support::well_formed;

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t i = text.find(what); i != std::string::npos; i = text.find(what, i + 1)) ++n;
  return n;
}

TEST(NiceTicks, RoundValuesCoveringTheRange) {
  EXPECT_EQ(nice_ticks(0, 1, 5), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  EXPECT_EQ(nice_ticks(0.83, 0.91, 4), (std::vector<double>{0.84, 0.86, 0.88, 0.9}));
  const std::vector<double> big = nice_ticks(0, 2.6e6, 5);
  EXPECT_EQ(big.front(), 0);
  EXPECT_DOUBLE_EQ(big[1], 5e5);
  EXPECT_EQ(big.size(), 6u);
}

TEST(ParetoFront, KeepsOnlyUndominatedPointsSortedBySize) {
  // (size, accuracy): the 2nd is dominated by the 1st (bigger and worse), the 4th by the 3rd.
  const std::vector<PlotPoint> points = {
      {10, 0.90, "a"}, {12, 0.89, "b"}, {40, 0.92, "c"}, {50, 0.91, "d"}, {5, 0.80, "e"}};
  EXPECT_EQ(pareto_front(points), (std::vector<size_t>{4, 0, 2}));
  // A tie in both is kept; a tie in size with lower accuracy is not.
  const std::vector<PlotPoint> ties = {{1, 0.5, ""}, {1, 0.5, ""}, {1, 0.4, ""}};
  EXPECT_EQ(pareto_front(ties), (std::vector<size_t>{0, 1}));
}

TEST(SvgPlot, WellFormedWithEveryPointAndTheFrontMarked) {
  std::vector<PlotSeries> series = {
      {"no KD", {{0.5, 0.89, ""}, {0.75, 0.885, ""}, {0.9, 0.87, ""}, {0.95, 0.84, ""}}, true},
      {"KD <teacher & co>", {{0.5, 0.893, ""}, {0.9, 0.88, "90%"}}, true}};
  PlotOptions o;
  o.title = "accuracy vs sparsity";
  o.x_label = "sparsity";
  o.y_label = "test accuracy";
  const std::string svg = svg_plot(series, o);
  EXPECT_TRUE(well_formed(svg)) << svg;
  EXPECT_EQ(count(svg, "class=\"point\""), 6u);
  EXPECT_EQ(count(svg, "<polyline"), 2u);
  EXPECT_NE(svg.find("KD &lt;teacher &amp; co&gt;"), std::string::npos);
  EXPECT_EQ(count(svg, "pareto-point"), 0u);

  o.mark_pareto = true;
  const std::string marked = svg_plot(series, o);
  EXPECT_TRUE(well_formed(marked));
  // Sparsity is not a cost here, but the rule is the same: smallest x, then better y.
  // Front: (0.5, 0.893) only, since every other point has larger x and lower y.
  EXPECT_EQ(count(marked, "pareto-point"), 1u);
}

TEST(SvgPlot, PointsMapInsideThePlotAreaAndLogAxisSkipsNonPositive) {
  std::vector<PlotSeries> series = {
      {"models", {{1e4, 0.8, ""}, {1e6, 0.9, ""}, {0, 0.5, ""}, {1e5, NAN, ""}}, false}};
  PlotOptions o;
  o.log_x = true;
  o.width = 500;
  o.height = 300;
  const std::string svg = svg_plot(series, o);
  EXPECT_TRUE(well_formed(svg)) << svg;
  EXPECT_EQ(count(svg, "class=\"point\""), 2u);  // x = 0 and y = NaN are left out
  EXPECT_EQ(count(svg, "<polyline"), 0u);
  std::smatch m;
  const std::regex circle("class=\"point\" cx=\"([0-9.]+)\" cy=\"([0-9.]+)\"");
  std::vector<std::pair<double, double>> xy;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), circle); it != std::sregex_iterator();
       ++it)
    xy.emplace_back(std::stod((*it)[1]), std::stod((*it)[2]));
  ASSERT_EQ(xy.size(), 2u);
  for (auto [x, y] : xy) {
    EXPECT_GT(x, 70);
    EXPECT_LT(x, 500 - 20);
    EXPECT_GT(y, 40);
    EXPECT_LT(y, 300 - 55);
  }
  EXPECT_LT(xy[0].first, xy[1].first);    // 1e4 left of 1e6
  EXPECT_GT(xy[0].second, xy[1].second);  // 0.8 below 0.9 (SVG y grows downwards)
  // Log ticks at 1, 2, 5 times powers of ten; a million and up in exponent form.
  EXPECT_NE(svg.find(">20000<"), std::string::npos) << svg;
  EXPECT_NE(svg.find(">100000<"), std::string::npos) << svg;
  EXPECT_NE(svg.find(">1e+06<"), std::string::npos) << svg;
}

TEST(SvgPlot, LegendColumnFitsTheLongestSeriesName) {
  const std::string long_name = "with KD from the dense model, fine-tuned 30 epochs";
  std::vector<PlotSeries> series = {{"short", {{0.5, 0.9, ""}}, false},
                                    {long_name, {{0.9, 0.8, ""}}, false}};
  PlotOptions o;
  o.width = 640;
  const std::string svg = svg_plot(series, o);
  EXPECT_TRUE(well_formed(svg)) << svg;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      svg, m,
      std::regex("<text x=\"([0-9.]+)\" y=\"[0-9.]+\">(with KD[^<]*)<title>([^<]*)</title>")))
      << svg;
  // Ends inside the picture at 7.2 px per character (12 px font, wide average): too long for
  // half the width, so it is cut, and the full name stays as the hover title.
  const std::string shown = m[2];
  EXPECT_LE(std::stod(m[1]) + 7.2 * static_cast<double>(shown.size()), o.width);
  EXPECT_EQ(shown.substr(shown.size() - 3), "...");
  EXPECT_EQ(long_name.rfind(shown.substr(0, shown.size() - 3), 0), 0u);
  EXPECT_EQ(m[3], long_name);
  // A name that fits is shown whole: the legend widened for it beyond the default 150 px.
  const std::string medium = "with KD from the dense model";
  const std::string svg2 = svg_plot({{"a", {{1, 1, ""}}, false}, {medium, {{2, 2, ""}}, false}}, o);
  EXPECT_NE(svg2.find(">" + medium + "<title>"), std::string::npos) << svg2;
  // The plot area gave way: every point of the first plot is left of the legend.
  const std::regex circle("class=\"point\" cx=\"([0-9.]+)\"");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), circle); it != std::sregex_iterator();
       ++it)
    EXPECT_LT(std::stod((*it)[1]), std::stod(m[1]));
}

TEST(SvgPlot, LabelsOfCoincidentPointsStackAndStayLeftOfTheLegend) {
  // ta8 and chain8 are the same model; teacher is the rightmost point, next to the legend.
  std::vector<PlotSeries> series = {
      {"models", {{1e5, 0.8, "ta8"}, {1e5, 0.8, "chain8"}, {1e6, 0.9, "teacher"}}, false},
      {"other", {{2e5, 0.5, ""}}, false}};
  PlotOptions o;
  o.log_x = true;
  const std::string svg = svg_plot(series, o);
  EXPECT_TRUE(well_formed(svg)) << svg;
  auto label = [&](const std::string& text) {
    std::smatch m;
    const std::regex re(
        "<text x=\"([0-9.]+)\" y=\"([0-9.]+)\"( text-anchor=\"end\")? "
        "stroke=\"none\" font-size=\"10\">" +
        text + "</text>");
    EXPECT_TRUE(std::regex_search(svg, m, re)) << text << "\n" << svg;
    return std::make_tuple(std::stod(m[1]), std::stod(m[2]), m[3].matched);
  };
  const auto [ta_x, ta_y, ta_end] = label("ta8");
  const auto [chain_x, chain_y, chain_end] = label("chain8");
  EXPECT_EQ(ta_x, chain_x);
  EXPECT_GE(std::abs(ta_y - chain_y), 10.9);  // a line (11 px) apart, not on top of each other
  const auto [teacher_x, teacher_y, teacher_end] = label("teacher");
  EXPECT_TRUE(teacher_end);  // would run into the legend: drawn left of its point
  std::smatch m;
  ASSERT_TRUE(std::regex_search(svg, m,
                                std::regex("class=\"point\" cx=\"([0-9.]+)\" cy=\"[0-9.]+\" "
                                           "r=\"3.5\"><title>teacher")));
  EXPECT_LT(teacher_x, std::stod(m[1]));
  EXPECT_FALSE(ta_end);
}

}  // namespace
}  // namespace retort::report
