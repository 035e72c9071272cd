#include "retort/exec/report.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <vector>

#include "retort/core/build_info.h"
#include "retort/exec/artifact_store.h"

namespace retort::exec {
namespace {

// Substrings of the metric names a reader looks for first, in display order.
constexpr const char* kKeyMetricWords[] = {"accuracy", "loss",    "param",     "nonzero",
                                           "sparsity", "bytes",   "size",      "flops",
                                           "macs",     "latency", "throughput"};
constexpr size_t kMaxKeyMetrics = 6;

std::string format_number(const nlohmann::json& v) {
  if (v.is_number_integer() || v.is_number_unsigned()) {
    // Thousands separators: parameter counts and byte sizes are long.
    std::string digits = v.is_number_unsigned() ? std::to_string(v.get<uint64_t>())
                                                : std::to_string(std::llabs(v.get<int64_t>()));
    std::string out;
    for (size_t i = 0; i < digits.size(); ++i) {
      if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
      out += digits[i];
    }
    return (v.is_number_integer() && v.get<int64_t>() < 0 ? "-" : "") + out;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", v.get<double>());
  return text;
}

// The key scalar metrics of one flat object.
std::vector<std::string> flat_key_metrics(const nlohmann::json& object) {
  std::vector<std::string> parts;
  std::vector<std::string> used;
  for (const char* word : kKeyMetricWords) {
    for (const auto& [key, value] : object.items()) {
      if (parts.size() >= kMaxKeyMetrics) return parts;
      if (!value.is_number() || key.find(word) == std::string::npos) continue;
      if (std::find(used.begin(), used.end(), key) != used.end()) continue;
      used.push_back(key);
      parts.push_back(key + " " + format_number(value));
    }
  }
  return parts;
}

std::string model_name(const nlohmann::json& entry, size_t index) {
  for (const char* key : {"name", "model", "id"}) {
    if (entry.contains(key) && entry[key].is_string()) return entry[key].get<std::string>();
  }
  std::string fallback = "#";
  return fallback.append(std::to_string(index));
}

std::string md_cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string join_parts(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

}  // namespace

std::string key_metrics(const nlohmann::json& metrics) {
  if (!metrics.is_object()) return "";
  std::vector<std::string> groups;
  const std::string top = join_parts(flat_key_metrics(metrics), ", ");
  if (!top.empty()) groups.push_back(top);
  for (const auto& [key, value] : metrics.items()) {
    if (value.is_array()) {  // {"models": [{"name": "teacher", "accuracy": ...}, ...]}
      for (size_t i = 0; i < value.size(); ++i) {
        if (!value[i].is_object()) continue;
        const std::string part = join_parts(flat_key_metrics(value[i]), ", ");
        if (!part.empty()) groups.push_back(model_name(value[i], i) + ": " + part);
      }
    } else if (value.is_object()) {  // {"teacher": {"accuracy": ...}}
      const std::string part = join_parts(flat_key_metrics(value), ", ");
      if (!part.empty()) groups.push_back(key + ": " + part);
    }
  }
  return join_parts(groups, "; ");
}

ComparisonTable baseline_comparison(const nlohmann::json& metrics) {
  ComparisonTable table;
  if (!metrics.is_object() || !metrics.contains("baseline") || !metrics.contains("models") ||
      !metrics["models"].is_array())
    return table;
  table.columns = {"model",       "accuracy",           "accuracy retained", "bytes",
                   "compression", "throughput (img/s)", "speed-up",          "latency (ms)"};
  const auto cell = [](const nlohmann::json& m, const char* key, const char* format) {
    if (!m.contains(key) || !m[key].is_number()) return std::string();
    char text[64];
    std::snprintf(text, sizeof text, format, m[key].get<double>());
    return std::string(text);
  };
  for (const nlohmann::json& m : metrics["models"])
    table.rows.push_back({m.value("name", std::string("?")), cell(m, "accuracy", "%.4f"),
                          cell(m, "accuracy_retained", "%.2f%%"), cell(m, "bytes", "%.0f"),
                          cell(m, "compression_ratio", "%.1fx"), cell(m, "throughput", "%.0f"),
                          cell(m, "speedup", "%.2fx"), cell(m, "latency_ms_median", "%.3f")});
  return table;
}

std::string status_text(const StageOutcome& stage) {
  std::string text = stage_status_name(stage.status);
  if (stage.status == StageStatus::kCached && !stage.retort_commit.empty() &&
      stage.retort_commit != build_commit())
    text += " (commit " + stage.retort_commit + ")";
  return text;
}

nlohmann::json report_json(const recipe::Recipe& recipe, const RunResult& result) {
  nlohmann::json stages = nlohmann::json::array();
  for (const StageOutcome& s : result.stages) {
    stages.push_back({{"id", s.id},
                      {"type", s.type},
                      {"status", stage_status_name(s.status)},
                      {"seconds", s.seconds},
                      {"metrics", s.metrics},
                      {"error", s.error.empty() ? nlohmann::json() : nlohmann::json(s.error)},
                      {"retort_commit", s.retort_commit}});
  }
  return {{"recipe", recipe.name},
          {"recipe_path", recipe.path},
          {"out_dir", result.out_dir},
          {"ok", result.ok()},
          {"cancelled", result.cancelled},
          {"retort", {{"version", version()}, {"commit", build_commit()}}},
          {"stages", std::move(stages)}};
}

std::string report_markdown(const recipe::Recipe& recipe, const RunResult& result) {
  std::ostringstream md;
  md << "# retort run: " << (recipe.name.empty() ? "recipe" : recipe.name) << "\n\n";
  md << "Output folder: `" << result.out_dir << "`";
  if (!recipe.path.empty()) md << " (recipe `" << recipe.path << "`)";
  md << ". Written by retort " << build_description() << ".\n\n";
  if (result.cancelled) md << "**The run was cancelled**; rerun the recipe to resume.\n\n";
  md << "| stage | type | status | seconds | key metrics |\n";
  md << "|---|---|---|---:|---|\n";
  for (const StageOutcome& s : result.stages) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1f", s.seconds);
    md << "| " << md_cell(s.id) << " | " << md_cell(s.type) << " | " << status_text(s) << " | "
       << seconds << " | " << md_cell(key_metrics(s.metrics)) << " |\n";
  }
  // Stages that compare models against a baseline (the evaluate stage of a pipeline) get a
  // table of their own: what each step of the compression kept, saved and gained.
  for (const StageOutcome& s : result.stages) {
    const ComparisonTable table = baseline_comparison(s.metrics);
    if (table.rows.empty()) continue;
    md << "\n## " << md_cell(s.id) << ": every model against "
       << md_cell(s.metrics["baseline"].get<std::string>()) << "\n\n|";
    for (const std::string& c : table.columns) md << " " << c << " |";
    md << "\n|---|";
    for (size_t c = 1; c < table.columns.size(); ++c) md << "---:|";
    md << "\n";
    for (const std::vector<std::string>& row : table.rows) {
      md << "|";
      for (const std::string& cell : row) md << " " << md_cell(cell) << " |";
      md << "\n";
    }
  }
  bool any_error = false;
  for (const StageOutcome& s : result.stages) {
    if (s.status != StageStatus::kFailed) continue;
    if (!any_error) md << "\n## Errors\n\n";
    any_error = true;
    md << "- **" << s.id << "**: " << s.error << "\n";
  }
  return md.str();
}

Status write_reports(const recipe::Recipe& recipe, const RunResult& result) {
  const std::filesystem::path dir(result.out_dir);
  RETORT_RETURN_IF_ERROR(write_file_atomic((dir / "report.json").string(),
                                           report_json(recipe, result).dump(2) + "\n"));
  RETORT_RETURN_IF_ERROR(
      write_file_atomic((dir / "report.md").string(), report_markdown(recipe, result)));
  RETORT_RETURN_IF_ERROR(
      write_file_atomic((dir / "report.html").string(), report_html(recipe, result)));
  return write_file_atomic((dir / "recipe.resolved.json").string(),
                           recipe.resolved_json().dump(2) + "\n");
}

}  // namespace retort::exec
