#include "retort/bench/suite.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "nlohmann/json.hpp"
#include "retort/core/json_util.h"

namespace retort::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Reads one suite document; the first problem ends the read with "<file>: <path>: <what>".
class SuiteReader {
 public:
  explicit SuiteReader(std::string origin) : origin_(std::move(origin)) {}

  Expected<Suite> read(const json& doc) {
    Suite suite;
    suite.path = origin_;
    RETORT_RETURN_IF_ERROR(only_keys(doc, "", {"version", "description", "benchmarks"}));
    if (!doc.contains("version") || as_integer(doc["version"]) != 1)
      return fail("/version",
                  "expected 1, found " + (doc.contains("version") ? describe_json(doc["version"])
                                                                  : std::string("nothing")));
    if (!doc.contains("benchmarks") || !doc["benchmarks"].is_array() || doc["benchmarks"].empty())
      return fail("/benchmarks", "expected a non-empty list of benchmarks");
    std::set<std::string> names;
    for (size_t i = 0; i < doc["benchmarks"].size(); ++i) {
      const std::string where = json_pointer_append("/benchmarks", i);
      RETORT_ASSIGN_OR_RETURN(BenchmarkSpec spec, benchmark(doc["benchmarks"][i], where));
      if (!names.insert(spec.name).second)
        return fail(where + "/name", "benchmark '" + spec.name + "' is listed twice");
      suite.benchmarks.push_back(std::move(spec));
    }
    return suite;
  }

 private:
  Status fail(const std::string& where, const std::string& what) const {
    return make_error(ErrorCode::kInvalidArgument, origin_, ": ", where.empty() ? "/" : where, ": ",
                      what);
  }

  Status only_keys(const json& value, const std::string& where,
                   const std::set<std::string>& allowed) const {
    if (!value.is_object()) return fail(where, "expected an object, found " + describe_json(value));
    for (const auto& [key, _] : value.items())
      if (!allowed.count(key)) {
        std::string known;
        for (const std::string& k : allowed) known += (known.empty() ? "" : ", ") + k;
        return fail(json_pointer_append(where, key), "unknown key (known: " + known + ")");
      }
    return Status::Ok();
  }

  Expected<std::string> text(const json& parent, const std::string& where, const char* key,
                             bool required) const {
    auto it = parent.find(key);
    if (it == parent.end()) {
      if (required) return fail(where, std::string("missing \"") + key + "\"");
      return std::string();
    }
    if (!it->is_string() || it->get<std::string>().empty())
      return fail(json_pointer_append(where, key),
                  "expected a non-empty string, found " + describe_json(*it));
    return it->get<std::string>();
  }

  Expected<BenchmarkSpec> benchmark(const json& b, const std::string& where) const {
    RETORT_RETURN_IF_ERROR(
        only_keys(b, where, {"name", "recipe", "source", "published", "sweeps"}));
    BenchmarkSpec spec;
    RETORT_ASSIGN_OR_RETURN(spec.name, text(b, where, "name", true));
    for (char c : spec.name)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
        return fail(where + "/name",
                    "'" + spec.name + "': use letters, digits, '-' and '_' (it names a folder)");
    RETORT_ASSIGN_OR_RETURN(std::string recipe, text(b, where, "recipe", true));
    fs::path resolved = fs::path(recipe);
    if (resolved.is_relative()) resolved = fs::path(origin_).parent_path() / resolved;
    if (!fs::is_regular_file(resolved))
      return fail(where + "/recipe", "no such file '" + resolved.string() + "'");
    spec.recipe = resolved.lexically_normal().string();
    RETORT_ASSIGN_OR_RETURN(spec.source, text(b, where, "source", b.contains("published")));
    if (auto it = b.find("published"); it != b.end()) {
      if (!it->is_object())
        return fail(
            where + "/published",
            "expected an object of model name to published result, found " + describe_json(*it));
      for (const auto& [model, value] : it->items()) {
        if (!value.is_string())
          return fail(json_pointer_append(where + "/published", model),
                      "expected the published result as text, found " + describe_json(value));
        spec.published[model] = value.get<std::string>();
      }
    }
    if (auto it = b.find("sweeps"); it != b.end()) {
      if (!it->is_array()) return fail(where + "/sweeps", "expected a list of sweep plots");
      for (size_t i = 0; i < it->size(); ++i) {
        RETORT_ASSIGN_OR_RETURN(SweepPlot plot,
                                sweep((*it)[i], json_pointer_append(where + "/sweeps", i)));
        spec.sweeps.push_back(std::move(plot));
      }
    }
    return spec;
  }

  Expected<SweepPlot> sweep(const json& s, const std::string& where) const {
    RETORT_RETURN_IF_ERROR(only_keys(s, where, {"title", "x_label", "x_metric", "series"}));
    SweepPlot plot;
    RETORT_ASSIGN_OR_RETURN(plot.title, text(s, where, "title", true));
    RETORT_ASSIGN_OR_RETURN(plot.x_label, text(s, where, "x_label", true));
    RETORT_ASSIGN_OR_RETURN(plot.x_metric, text(s, where, "x_metric", false));
    static const std::set<std::string> kMetrics = {"sparsity", "bytes", "parameters", "latency_ms",
                                                   "throughput"};
    if (!plot.x_metric.empty() && !kMetrics.count(plot.x_metric))
      return fail(where + "/x_metric", "'" + plot.x_metric +
                                           "' is not a measured metric (use sparsity, bytes, "
                                           "parameters, latency_ms or throughput)");
    if (!s.contains("series") || !s["series"].is_array() || s["series"].empty())
      return fail(where + "/series", "expected a non-empty list of series");
    for (size_t i = 0; i < s["series"].size(); ++i) {
      const json& js = s["series"][i];
      const std::string at = json_pointer_append(where + "/series", i);
      RETORT_RETURN_IF_ERROR(only_keys(js, at, {"name", "points"}));
      SweepSeries series;
      RETORT_ASSIGN_OR_RETURN(series.name, text(js, at, "name", true));
      if (!js.contains("points") || !js["points"].is_array() || js["points"].empty())
        return fail(at + "/points", "expected a non-empty list of {\"model\", \"x\"} points");
      for (size_t p = 0; p < js["points"].size(); ++p) {
        const json& jp = js["points"][p];
        const std::string pt = json_pointer_append(at + "/points", p);
        RETORT_RETURN_IF_ERROR(only_keys(jp, pt, {"model", "x"}));
        SweepPoint point;
        RETORT_ASSIGN_OR_RETURN(point.model, text(jp, pt, "model", true));
        if (plot.x_metric.empty()) {
          if (!jp.contains("x") || !jp["x"].is_number())
            return fail(pt + "/x", "expected a number (or set the sweep's x_metric)");
          point.x = jp["x"].get<double>();
        }
        series.points.push_back(point);
      }
      plot.series.push_back(std::move(series));
    }
    return plot;
  }

  std::string origin_;
};

}  // namespace

const BenchmarkSpec* Suite::find(const std::string& name) const {
  for (const BenchmarkSpec& b : benchmarks)
    if (b.name == name) return &b;
  return nullptr;
}

Expected<Suite> parse_suite(const std::string& text, const std::string& origin_path) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    return make_error(ErrorCode::kParse, origin_path, ": not valid JSON: ", e.what());
  }
  return SuiteReader(origin_path).read(doc);
}

Expected<Suite> load_suite(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return make_error(ErrorCode::kNotFound, "no suite file '", path,
                      "' (pass one with --suite, e.g. recipes/benchmarks/suite.json)");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_suite(ss.str(), path);
}

}  // namespace retort::bench
