#include "retort/bench/bench_report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>
#include <vector>

#include "retort/core/build_info.h"
#include "retort/report/svg_plot.h"

namespace retort::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using report::xml_escape;

// One table cell: text, optionally a list of links (label, target) after it.
struct Cell {
  std::string text;
  std::vector<std::pair<std::string, std::string>> links;
  bool numeric = false;
};
using TableRow = std::vector<Cell>;

std::string format(const char* fmt, double v) {
  char text[64];
  std::snprintf(text, sizeof text, fmt, v);
  return text;
}

std::string grouped(double v) {
  std::string digits = format("%.0f", v);
  const size_t first = digits[0] == '-' ? 1 : 0;
  for (int i = static_cast<int>(digits.size()) - 3; i > static_cast<int>(first); i -= 3)
    digits.insert(static_cast<size_t>(i), ",");
  return digits;
}

bool has_stat(const json& row, const char* key) {
  return row.contains(key) && row[key].is_object() && row[key].contains("mean");
}

double mean(const json& row, const char* key) {
  return row[key]["mean"].get<double>();
}

std::string stat_text(const json& row, const char* key) {
  if (!has_stat(row, key)) return "";
  const json& s = row[key];
  const double m = s["mean"].get<double>(), sd = s["std"].get<double>();
  const int64_t n = s["n"].get<int64_t>();
  const std::string key_name = key;
  if (key_name == "accuracy")
    return format("%.4f", m) + (n > 1 ? " ± " + format("%.4f", sd) : "") +
           " (n=" + std::to_string(n) + ")";
  if (key_name == "sparsity") return format("%.1f%%", 100 * m);
  if (key_name == "latency_ms") return format("%.3f", m);
  if (key_name == "accuracy_retained")
    return format("%.2f%%", m) + (n > 1 ? " ± " + format("%.2f", sd) : "");
  if (key_name == "compression_ratio") return format("%.1fx", m);
  if (key_name == "speedup") return format("%.2fx", m) + (n > 1 ? " ± " + format("%.2f", sd) : "");
  return grouped(m);
}

std::string link_to(const std::string& target, const std::string& report_dir) {
  if (report_dir.empty()) return target;
  const fs::path rel = fs::weakly_canonical(fs::absolute(target))
                           .lexically_relative(fs::weakly_canonical(fs::absolute(report_dir)));
  return rel.empty() ? target : rel.generic_string();
}

std::vector<report::PlotPoint> points(const json& b, const char* x_key) {
  std::vector<report::PlotPoint> out;
  for (const json& r : b["rows"])
    if (has_stat(r, x_key) && has_stat(r, "accuracy"))
      out.push_back({mean(r, x_key), mean(r, "accuracy"), r.value("model", std::string())});
  return out;
}

// The models on the Pareto front of accuracy against `x_key` (smaller x, higher accuracy).
std::set<std::string> front_models(const json& b, const char* x_key) {
  const std::vector<report::PlotPoint> pts = points(b, x_key);
  std::set<std::string> front;
  for (size_t i : report::pareto_front(pts)) front.insert(pts[i].label);
  return front;
}

// Whether the benchmark's evaluate stage compared its models with a baseline (the teacher).
bool has_baseline(const json& b) {
  for (const json& r : b["rows"])
    if (has_stat(r, "accuracy_retained")) return true;
  return false;
}

struct Column {
  std::string name;
  bool numeric = false;
};

// The columns of a benchmark's table and its rows, shared by both reports.
std::vector<Column> table_columns(const json& b) {
  std::vector<Column> columns = {
      {"model", false},
      {"accuracy (mean ± sd over seeds)", true},
      {"published (" + b.value("source", std::string("no published number")) + ")", false}};
  if (has_baseline(b))
    columns.insert(columns.end(),
                   {{"accuracy retained", true}, {"smaller", true}, {"faster (throughput)", true}});
  columns.insert(columns.end(), {{"bytes", true},
                                 {"parameters", true},
                                 {"sparsity", true},
                                 {"latency (ms, batch 1)", true},
                                 {"throughput (img/s)", true},
                                 {"Pareto front", false},
                                 {"runs (folder, artifact hash)", false}});
  return columns;
}

std::vector<TableRow> table_rows(const json& b, const std::string& report_dir) {
  std::vector<TableRow> rows;
  const bool baseline = has_baseline(b);
  const std::set<std::string> by_size = front_models(b, "bytes");
  const std::set<std::string> by_latency = front_models(b, "latency_ms");
  for (const json& r : b["rows"]) {
    TableRow row;
    row.push_back({r.value("model", std::string("?")), {}, false});
    row.push_back({stat_text(r, "accuracy"), {}, true});
    row.push_back({r["published"].is_string() ? r["published"].get<std::string>() : "", {}, false});
    if (baseline)
      for (const char* key : {"accuracy_retained", "compression_ratio", "speedup"})
        row.push_back({stat_text(r, key), {}, true});
    for (const char* key : {"bytes", "parameters", "sparsity", "latency_ms", "throughput"})
      row.push_back({stat_text(r, key), {}, true});
    const std::string model = r.value("model", std::string("?"));
    std::string front = by_size.count(model) ? "size" : "";
    if (by_latency.count(model)) front += front.empty() ? "latency" : ", latency";
    row.push_back({front, {}, false});
    Cell runs;
    for (const json& a : r["artifacts"]) {
      const std::string hash = a.value("hash", std::string());
      runs.links.emplace_back(
          "seed " + std::to_string(a["seed"].get<int64_t>()) + (hash.empty() ? "" : " " + hash),
          link_to(a["folder"].get<std::string>(), report_dir));
    }
    row.push_back(std::move(runs));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string md_cell(const Cell& c) {
  std::string out;
  for (char ch : c.text) out += ch == '|' ? std::string("\\|") : std::string(1, ch);
  for (const auto& [label, target] : c.links)
    out += (out.empty() ? "" : ", ") + std::string("[") + label + "](" + target + ")";
  return out;
}

std::string html_cell(const Cell& c) {
  std::string out = xml_escape(c.text);
  for (const auto& [label, target] : c.links)
    out += (out.empty() ? "" : ", ") + std::string("<a href=\"") + xml_escape(target) + "\">" +
           xml_escape(label) + "</a>";
  return out;
}

// "3 of 3 seeds complete, computed 2026-11-23 08:28 to 08:53 UTC by commit 0123456789ab,
// 24.9 min this run".
std::string run_summary(const json& b) {
  int ok = 0;
  double seconds = 0;
  int ran = 0;
  std::string from, to;
  std::vector<std::string> commits;
  for (const json& run : b["runs"]) {
    ok += run.value("ok", false) ? 1 : 0;
    seconds += run.value("seconds", 0.0);
    ran += run.value("ran", 0);
    const std::string f = run.value("computed_from", std::string());
    const std::string t = run.value("computed_to", std::string());
    if (!f.empty() && (from.empty() || f < from)) from = f;
    if (t > to) to = t;
    for (const json& c : run.value("computed_by", json::array()))
      if (c.is_string() && std::find(commits.begin(), commits.end(), c) == commits.end())
        commits.push_back(c.get<std::string>());
  }
  // "2026-11-23T08:28:01.123Z" -> "2026-11-23 08:28".
  auto minute = [](const std::string& iso) {
    return iso.size() >= 16 ? iso.substr(0, 10) + " " + iso.substr(11, 5) : iso;
  };
  std::string text =
      std::to_string(ok) + " of " + std::to_string(b["runs"].size()) + " seeds complete";
  if (!from.empty() && !to.empty())
    text += ", computed " + minute(from) + " to " +
            minute(to).substr(from.substr(0, 10) == to.substr(0, 10) ? 11 : 0) + " UTC";
  if (!commits.empty()) {
    text += commits.size() == 1 ? " by commit " : " by commits ";
    for (size_t i = 0; i < commits.size(); ++i) text += (i > 0 ? ", " : "") + commits[i];
  }
  text += ran > 0 ? ", " + format("%.1f", seconds / 60) + " min this run" : ", all from the cache";
  return text;
}

std::string header_text(const json& results) {
  const json& m = results.value("machine", json::object());
  std::string seeds;
  for (const json& s : results.value("seeds", json::array()))
    seeds += (seeds.empty() ? "" : ", ") + std::to_string(s.get<int64_t>());
  std::string text = "retort " +
                     describe_build(results.value("retort_version", std::string("?")),
                                    results.value("retort_commit", std::string())) +
                     ", " + results.value("date", std::string("")) +
                     ". Machine: " + m.value("cpu", std::string("unknown CPU")) + ", " +
                     std::to_string(m.value("cores", 0)) + " cores, " +
                     std::to_string(m.value("threads", 0)) + " threads used";
  const double start = m.value("load_start", -1.0), end = m.value("load_end", -1.0);
  if (start >= 0 && end >= 0)
    text += ", load average " + format("%.1f", start) + " at the start and " + format("%.1f", end) +
            " at the end" +
            (std::max(start, end) > m.value("threads", 0) + 0.5
                 ? " (other work was running: latency and throughput are low)"
                 : "");
  if (m.value("from_cache", false))
    text += "; every result came from the run folders' cache (measured by earlier runs)";
  return text + ". Seeds: " + seeds + ".";
}

const char* kQuickNote =
    "This is a --quick smoke run (a small slice of the data, one epoch per training): it checks "
    "that every benchmark runs end to end; its accuracies are not comparable with the papers'.";

}  // namespace

std::vector<BenchPlot> benchmark_plots(const json& b) {
  std::vector<BenchPlot> plots;
  const std::string name = b.value("name", std::string("benchmark"));
  struct Axis {
    const char* key;
    const char* kind;
    const char* title;
    const char* label;
  };
  for (const Axis& axis :
       {Axis{"bytes", "size", "Accuracy against size on disk", "bytes (log scale)"},
        Axis{"latency_ms", "latency", "Accuracy against latency",
             "latency at batch 1, ms (log scale)"}}) {
    std::vector<report::PlotPoint> pts = points(b, axis.key);
    if (pts.size() < 2) continue;
    report::PlotOptions o;
    o.title = name + ": " + axis.title;
    o.x_label = axis.label;
    o.y_label = "test accuracy (mean over seeds)";
    o.log_x = true;
    o.mark_pareto = true;
    plots.push_back(
        {name + "-" + axis.kind + ".svg", o.title, report::svg_plot({{"models", pts, false}}, o)});
  }
  int index = 0;
  for (const json& sweep : b.value("sweeps", json::array())) {
    std::vector<report::PlotSeries> series;
    size_t total = 0;
    for (const json& s : sweep["series"]) {
      report::PlotSeries ps{s["name"].get<std::string>(), {}, true};
      for (const json& p : s["points"])
        ps.points.push_back({p["x"].get<double>(), p["accuracy"]["mean"].get<double>(),
                             p["model"].get<std::string>()});
      total += ps.points.size();
      series.push_back(std::move(ps));
    }
    if (total < 2) continue;
    report::PlotOptions o;
    o.title = name + ": " + sweep["title"].get<std::string>();
    o.x_label = sweep["x_label"].get<std::string>();
    o.y_label = "test accuracy (mean over seeds)";
    plots.push_back(
        {name + "-sweep" + std::to_string(++index) + ".svg", o.title, report::svg_plot(series, o)});
  }
  return plots;
}

std::string bench_markdown(const json& results, const std::string& report_dir) {
  std::ostringstream md;
  md << "# retort bench\n\n" << header_text(results) << "\n\n";
  if (results.contains("command"))
    md << "Produced by:\n\n```sh\n" << results["command"].get<std::string>() << "\n```\n\n";
  if (results.value("quick", false)) md << "**" << kQuickNote << "**\n\n";
  md << "| benchmark | recipe | runs |\n|---|---|---|\n";
  for (const json& b : results["benchmarks"])
    md << "| [" << b["name"].get<std::string>() << "](#" << b["name"].get<std::string>() << ") | ["
       << b["recipe"].get<std::string>() << "]("
       << link_to(b["recipe"].get<std::string>(), report_dir) << ") | " << run_summary(b) << " |\n";
  for (const json& b : results["benchmarks"]) {
    md << "\n## " << b["name"].get<std::string>() << "\n\n";
    md << "Recipe [" << b["recipe"].get<std::string>() << "]("
       << link_to(b["recipe"].get<std::string>(), report_dir) << "); " << run_summary(b)
       << ". Published numbers: " << b.value("source", std::string("none")) << ".\n\n";
    const std::vector<Column> columns = table_columns(b);
    md << "|";
    for (const Column& c : columns) md << " " << c.name << " |";
    md << "\n|";
    for (const Column& c : columns) md << (c.numeric ? "---:|" : "---|");
    md << "\n";
    for (const TableRow& row : table_rows(b, report_dir)) {
      md << "|";
      for (const Cell& cell : row) md << " " << md_cell(cell) << " |";
      md << "\n";
    }
    for (const json& p : b.value("problems", json::array()))
      md << "\n- problem: " << p.get<std::string>();
    for (const json& run : b["runs"])
      if (!run.value("error", std::string()).empty())
        md << "\n- seed " << run["seed"].get<int64_t>() << ": " << run["error"].get<std::string>();
    md << "\n";
    for (const BenchPlot& plot : benchmark_plots(b))
      md << "\n![" << plot.title << "](plots/" << plot.file << ")\n";
  }
  return md.str();
}

std::string bench_html(const json& results, const std::string& report_dir) {
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       "<title>retort bench</title>\n<style>\n"
       "body{font-family:sans-serif;margin:2em;max-width:80em}"
       "table{border-collapse:collapse;margin:1em 0}"
       "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}"
       "td.n{text-align:right}.problem{color:#b00}\n"
       "</style>\n</head>\n<body>\n<h1>retort bench</h1>\n<p>"
    << xml_escape(header_text(results)) << "</p>\n";
  if (results.contains("command"))
    h << "<p>Produced by <code>" << xml_escape(results["command"].get<std::string>())
      << "</code></p>\n";
  if (results.value("quick", false)) h << "<p><strong>" << kQuickNote << "</strong></p>\n";
  h << "<table>\n<tr><th>benchmark</th><th>recipe</th><th>runs</th></tr>\n";
  for (const json& b : results["benchmarks"]) {
    const std::string name = b["name"].get<std::string>();
    h << "<tr><td><a href=\"#" << xml_escape(name) << "\">" << xml_escape(name)
      << "</a></td><td><a href=\"" << xml_escape(link_to(b["recipe"], report_dir)) << "\">"
      << xml_escape(b["recipe"].get<std::string>()) << "</a></td><td>" << xml_escape(run_summary(b))
      << "</td></tr>\n";
  }
  h << "</table>\n";
  for (const json& b : results["benchmarks"]) {
    const std::string name = b["name"].get<std::string>();
    h << "<h2 id=\"" << xml_escape(name) << "\">" << xml_escape(name)
      << "</h2>\n<p>Recipe <a href=\"" << xml_escape(link_to(b["recipe"], report_dir)) << "\">"
      << xml_escape(b["recipe"].get<std::string>()) << "</a>; " << xml_escape(run_summary(b))
      << ". Published numbers: " << xml_escape(b.value("source", std::string("none")))
      << ".</p>\n<table>\n<tr>";
    for (const Column& c : table_columns(b)) h << "<th>" << xml_escape(c.name) << "</th>";
    h << "</tr>\n";
    for (const TableRow& row : table_rows(b, report_dir)) {
      h << "<tr>";
      for (const Cell& cell : row)
        h << (cell.numeric ? "<td class=\"n\">" : "<td>") << html_cell(cell) << "</td>";
      h << "</tr>\n";
    }
    h << "</table>\n";
    for (const json& p : b.value("problems", json::array()))
      h << "<p class=\"problem\">problem: " << xml_escape(p.get<std::string>()) << "</p>\n";
    for (const json& run : b["runs"])
      if (!run.value("error", std::string()).empty())
        h << "<p class=\"problem\">seed " << run["seed"].get<int64_t>() << ": "
          << xml_escape(run["error"].get<std::string>()) << "</p>\n";
    for (const BenchPlot& plot : benchmark_plots(b)) {
      std::string svg = plot.svg;
      if (svg.rfind("<?xml", 0) == 0) svg.erase(0, svg.find('\n') + 1);  // inline: no prolog
      h << svg << "\n";
    }
  }
  h << "<p>Ringed points are on the Pareto front: no other model is both smaller (or faster) "
       "and more accurate.</p>\n</body>\n</html>\n";
  return h.str();
}

}  // namespace retort::bench
