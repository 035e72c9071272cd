// retort plot: an SVG plot from a small JSON description (the tables of recipes/benchmarks
// README files are plotted with it).
#include <cstdio>
#include <fstream>
#include <sstream>

#include "args.h"
#include "commands.h"
#include "nlohmann/json.hpp"
#include "retort/exec/artifact_store.h"
#include "retort/report/svg_plot.h"

namespace retort::cli {
namespace {

const char* kUsage =
    "usage: retort plot SPEC.json --out PLOT.svg\n"
    "\n"
    "Draws the series of SPEC.json as an SVG plot:\n"
    "  {\"title\": \"...\", \"x_label\": \"...\", \"y_label\": \"...\", \"log_x\": false,\n"
    "   \"mark_pareto\": false, \"width\": 640, \"height\": 420,\n"
    "   \"series\": [{\"name\": \"KD\", \"connect\": true,\n"
    "               \"points\": [[0.5, 0.89], [0.9, 0.88, \"label\"], ...]}, ...]}\n"
    "mark_pareto rings the points no other point beats (smaller x and larger y are better).\n";

Expected<report::PlotPoint> parse_point(const nlohmann::json& j, const std::string& where) {
  const bool ok = j.is_array() && (j.size() == 2 || j.size() == 3) && j[0].is_number() &&
                  j[1].is_number() && (j.size() == 2 || j[2].is_string());
  if (!ok)
    return make_error(ErrorCode::kInvalidArgument, where,
                      ": expected [x, y] or [x, y, \"label\"] with numbers x and y, found ",
                      j.dump());
  return report::PlotPoint{j[0].get<double>(), j[1].get<double>(),
                           j.size() == 3 ? j[2].get<std::string>() : ""};
}

Expected<std::vector<report::PlotSeries>> parse_series(const nlohmann::json& spec) {
  if (!spec.contains("series") || !spec["series"].is_array() || spec["series"].empty())
    return make_error(ErrorCode::kInvalidArgument,
                      "/series: expected a non-empty list of {\"name\", \"points\"}");
  std::vector<report::PlotSeries> out;
  for (size_t s = 0; s < spec["series"].size(); ++s) {
    const nlohmann::json& j = spec["series"][s];
    const std::string where = "/series/" + std::to_string(s);
    if (!j.is_object() || !j.contains("points") || !j["points"].is_array())
      return make_error(ErrorCode::kInvalidArgument, where,
                        ": expected {\"name\": ..., \"points\": [[x, y], ...]}");
    report::PlotSeries series;
    series.name = j.value("name", "series " + std::to_string(s));
    series.connect = j.value("connect", true);
    for (size_t p = 0; p < j["points"].size(); ++p) {
      RETORT_ASSIGN_OR_RETURN(report::PlotPoint point,
                              parse_point(j["points"][p], where + "/points/" + std::to_string(p)));
      series.points.push_back(std::move(point));
    }
    out.push_back(std::move(series));
  }
  return out;
}

}  // namespace

int cmd_plot(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, {"--out"}, {"--help"});
  if (!args.ok()) return fail(args.status(), kExitUsage);
  if (args->has("--help")) return std::fputs(kUsage, stdout), kExitOk;
  if (args->positional.size() != 1 || args->get("--out").empty())
    return fail(make_error(ErrorCode::kInvalidArgument,
                           "expected SPEC.json and --out PLOT.svg (see retort plot --help)"),
                kExitUsage);
  const std::string& path = args->positional[0];
  std::ifstream in(path);
  if (!in) return fail(make_error(ErrorCode::kNotFound, "cannot open '", path, "'"), kExitUsage);
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json spec = nlohmann::json::parse(text.str(), nullptr, false);
  if (spec.is_discarded() || !spec.is_object())
    return fail(make_error(ErrorCode::kParse, path, ": not a JSON object"), kExitUsage);
  auto series = parse_series(spec);
  if (!series.ok()) return fail(series.status().with_context(path), kExitUsage);
  report::PlotOptions options;
  options.title = spec.value("title", "");
  options.x_label = spec.value("x_label", "");
  options.y_label = spec.value("y_label", "");
  options.log_x = spec.value("log_x", false);
  options.mark_pareto = spec.value("mark_pareto", false);
  options.width = spec.value("width", options.width);
  options.height = spec.value("height", options.height);
  if (Status s = exec::write_file_atomic(args->get("--out"), report::svg_plot(*series, options));
      !s.ok())
    return fail(s, kExitFailed);
  return kExitOk;
}

}  // namespace retort::cli
