#include "retort/bench/results.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

namespace retort::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json read_json_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return nullptr;
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? json(nullptr) : j;
}

std::optional<double> number(const json& m, const char* key) {
  if (!m.is_object()) return std::nullopt;
  auto it = m.find(key);
  if (it == m.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

// A model's metrics under the row metric names: an evaluate stage's per-model entry, or a
// stage's own metrics (test_accuracy, bytes, parameters).
json row_values(const json& m) {
  json v = json::object();
  if (auto a = number(m, "accuracy"))
    v["accuracy"] = *a;
  else if (auto t = number(m, "test_accuracy"))
    v["accuracy"] = *t;
  for (const char* key :
       {"bytes", "parameters", "throughput", "accuracy_retained", "compression_ratio", "speedup"})
    if (auto x = number(m, key)) v[key] = *x;
  if (auto l = number(m, "latency_ms_median")) v["latency_ms"] = *l;
  auto params = number(m, "parameters");
  auto nonzero = number(m, "nonzero_parameters");
  if (auto s = number(m, "sparsity"))
    v["sparsity"] = *s;
  else if (params && nonzero && *params > 0)
    v["sparsity"] = 1.0 - *nonzero / *params;
  return v;
}

// "teacher.model" -> ("teacher", "model"); "ensemble" -> ("ensemble", "").
std::pair<std::string, std::string> split_name(const std::string& name) {
  const size_t dot = name.find('.');
  if (dot == std::string::npos) return {name, ""};
  return {name.substr(0, dot), name.substr(dot + 1)};
}

std::string row_name(const std::string& name) {
  auto [stage, port] = split_name(name);
  return port == "model" ? stage : name;
}

// The hash of a stage output recorded in its manifest ("" when unknown).
std::string artifact_hash(const fs::path& run_folder, const std::string& name) {
  auto [stage, port] = split_name(name);
  const json manifest = read_json_file(run_folder / stage / "manifest.json");
  if (!manifest.is_object() || !manifest.contains("outputs")) return "";
  const std::string file = (port.empty() ? "model" : port) + ".onnx";
  const json& outputs = manifest["outputs"];
  return outputs.contains(file) && outputs[file].is_string() ? outputs[file].get<std::string>()
                                                             : "";
}

struct Row {
  std::string model;
  std::map<std::string, std::vector<double>> values;
  json artifacts = json::array();
};

}  // namespace

json summarize(const std::vector<double>& values) {
  if (values.empty()) return nullptr;
  double sum = 0;
  for (double v : values) sum += v;
  const double mean = sum / static_cast<double>(values.size());
  double ss = 0;
  for (double v : values) ss += (v - mean) * (v - mean);
  const double sd = values.size() > 1 ? std::sqrt(ss / static_cast<double>(values.size() - 1)) : 0;
  return {{"mean", mean}, {"std", sd}, {"n", values.size()}, {"values", values}};
}

json collect_benchmark(const BenchmarkSpec& spec, const std::vector<SeedRun>& runs) {
  json out = {{"name", spec.name},
              {"recipe", spec.recipe},
              {"source", spec.source},
              {"runs", json::array()},
              {"problems", json::array()}};
  std::vector<Row> rows;
  auto row_for = [&rows](const std::string& model) -> Row& {
    for (Row& r : rows)
      if (r.model == model) return r;
    rows.push_back({model, {}, json::array()});
    return rows.back();
  };
  bool all_ok = !runs.empty();
  for (const SeedRun& run : runs) {
    all_ok = all_ok && run.ok;
    out["runs"].push_back({{"seed", run.seed},
                           {"folder", run.folder},
                           {"ok", run.ok},
                           {"seconds", run.seconds},
                           {"ran", run.ran},
                           {"cached", run.cached},
                           {"failed", run.failed},
                           {"error", run.error}});
    const json report = read_json_file(fs::path(run.folder) / "report.json");
    if (!report.is_object() || !report.contains("stages")) {
      out["problems"].push_back("seed " + std::to_string(run.seed) + ": no report.json in " +
                                run.folder);
      continue;
    }
    // When its stages computed what the report shows (cached stages keep their first run's
    // times): ISO-8601 UTC strings, so the earliest and latest sort as text.
    // And by which builds (commits, in order of first appearance; none from manifests written
    // before builds were recorded).
    std::string from, to;
    json commits = json::array();
    for (const json& stage : report["stages"]) {
      const json manifest =
          read_json_file(fs::path(run.folder) / stage.value("id", std::string()) / "manifest.json");
      if (!manifest.is_object()) continue;
      const std::string started = manifest.value("started", std::string());
      const std::string finished = manifest.value("finished", std::string());
      if (!started.empty() && (from.empty() || started < from)) from = started;
      if (finished > to) to = finished;
      const json build = manifest.value("retort", json::object());
      const std::string commit = build.is_object() ? build.value("commit", std::string()) : "";
      if (!commit.empty() && std::find(commits.begin(), commits.end(), commit) == commits.end())
        commits.push_back(commit);
    }
    out["runs"].back()["computed_from"] = from;
    out["runs"].back()["computed_to"] = to;
    out["runs"].back()["computed_by"] = std::move(commits);
    // This seed's models: evaluate stages' entries first, then stages' own accuracies.
    std::vector<std::pair<std::string, json>> models;  // (name as measured, values)
    auto seen = [&models](const std::string& row) {
      for (const auto& [name, _] : models)
        if (row_name(name) == row) return true;
      return false;
    };
    for (const json& stage : report["stages"]) {
      const json& m = stage.value("metrics", json());
      if (!m.is_object() || !m.contains("models") || !m["models"].is_array()) continue;
      for (const json& entry : m["models"]) {
        const std::string name = entry.value("name", std::string());
        if (!name.empty() && !seen(row_name(name))) models.emplace_back(name, row_values(entry));
      }
    }
    for (const json& stage : report["stages"]) {
      const json& m = stage.value("metrics", json());
      const std::string id = stage.value("id", std::string());
      if (number(m, "test_accuracy") && !seen(id))
        models.emplace_back(id + ".model", row_values(m));
    }
    for (const auto& [name, values] : models) {
      Row& row = row_for(row_name(name));
      for (const auto& [key, v] : values.items()) row.values[key].push_back(v.get<double>());
      row.artifacts.push_back({{"seed", run.seed},
                               {"folder", (fs::path(run.folder) / split_name(name).first).string()},
                               {"hash", artifact_hash(run.folder, name)}});
    }
  }
  out["ok"] = all_ok;

  json json_rows = json::array();
  std::map<std::string, json> by_model;
  for (const Row& row : rows) {
    json r = {{"model", row.model}, {"artifacts", row.artifacts}};
    auto published = spec.published.find(row.model);
    r["published"] = published == spec.published.end() ? json(nullptr) : json(published->second);
    for (const char* key : kRowMetrics) {
      auto it = row.values.find(key);
      r[key] = it == row.values.end() ? json(nullptr) : summarize(it->second);
    }
    by_model[row.model] = r;
    json_rows.push_back(std::move(r));
  }
  for (const auto& [model, _] : spec.published)
    if (!by_model.count(model))
      out["problems"].push_back("a published number is given for '" + model +
                                "', but no run measured a model of that name");
  out["rows"] = std::move(json_rows);

  json sweeps = json::array();
  for (const SweepPlot& plot : spec.sweeps) {
    json series_list = json::array();
    for (const SweepSeries& series : plot.series) {
      json points = json::array();
      for (const SweepPoint& p : series.points) {
        auto it = by_model.find(p.model);
        if (it == by_model.end() || it->second["accuracy"].is_null()) {
          out["problems"].push_back("sweep '" + plot.title + "': no accuracy for '" + p.model +
                                    "'");
          continue;
        }
        double x = p.x;
        if (!plot.x_metric.empty()) {
          const json& metric = it->second[plot.x_metric];
          if (metric.is_null()) {
            out["problems"].push_back("sweep '" + plot.title + "': no " + plot.x_metric + " for '" +
                                      p.model + "'");
            continue;
          }
          x = metric["mean"].get<double>();
        }
        points.push_back({{"model", p.model}, {"x", x}, {"accuracy", it->second["accuracy"]}});
      }
      series_list.push_back({{"name", series.name}, {"points", points}});
    }
    sweeps.push_back({{"title", plot.title}, {"x_label", plot.x_label}, {"series", series_list}});
  }
  out["sweeps"] = std::move(sweeps);
  return out;
}

json machine_json(int threads) {
  std::string cpu = "unknown";
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);)
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) cpu = line.substr(line.find_first_not_of(" \t", colon + 1));
      break;
    }
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  return {{"cpu", cpu}, {"cores", cores}, {"threads", threads > 0 ? threads : cores}};
}

double load_average() {
  std::ifstream in("/proc/loadavg");
  double one_minute = -1;
  if (!(in >> one_minute)) return -1;
  return one_minute;
}

}  // namespace retort::bench
