#include "progress_render.h"

#include <algorithm>
#include <cstdio>

namespace retort::cli {
namespace {

constexpr const char* kEraseLine = "\x1b[2K";
constexpr const char* kEraseBelow = "\x1b[J";

std::string cursor_up(size_t lines) {
  return lines == 0 ? std::string() : "\x1b[" + std::to_string(lines) + "A";
}

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", seconds);
  return text;
}

std::string log_line(const std::string& stage_id, const std::string& message) {
  return stage_id.empty() ? "retort: " + message : "[" + stage_id + "] " + message;
}

}  // namespace

ProgressRenderer::ProgressRenderer(bool terminal, size_t columns)
    : terminal_(terminal), columns_(columns) {}

std::string ProgressRenderer::format_progress(const std::string& stage_id,
                                              const nlohmann::json& p) {
  char line[256];
  auto num = [&](const char* k) {
    return p.contains(k) && p[k].is_number() ? p[k].get<double>() : -1.0;
  };
  auto append = [&](int n) {
    return std::min<size_t>(static_cast<size_t>(std::max(n, 0)), sizeof line - 1);
  };
  size_t n = append(std::snprintf(line, sizeof line, "  %-14s", stage_id.c_str()));
  if (num("epoch") >= 0)
    n += append(
        std::snprintf(line + n, sizeof line - n, " epoch %g/%g", num("epoch"), num("epochs")));
  if (num("step") >= 0)
    n += append(std::snprintf(line + n, sizeof line - n, " step %g/%g", num("step"), num("steps")));
  if (num("loss") >= 0)
    n += append(std::snprintf(line + n, sizeof line - n, " loss %.4f", num("loss")));
  if (num("accuracy") >= 0)
    n += append(std::snprintf(line + n, sizeof line - n, " acc %.4f", num("accuracy")));
  const double seconds = num("seconds");
  const double done =
      num("epoch") > 0 && num("steps") > 0
          ? ((num("epoch") - 1) * num("steps") + num("step")) / (num("epochs") * num("steps"))
          : -1;
  if (seconds > 0 && done > 0 && done < 1 && n < sizeof line - 1)
    std::snprintf(line + n, sizeof line - n, " eta %.0fs", seconds / done * (1 - done));
  return line;
}

std::string ProgressRenderer::finished_line(const exec::StageOutcome& outcome) {
  const std::string stage = "stage " + outcome.id;
  switch (outcome.status) {
    case exec::StageStatus::kRan:
      return stage + " ran in " + seconds_text(outcome.seconds);
    case exec::StageStatus::kCached:
      return stage + " cached";
    case exec::StageStatus::kFailed:
      return stage + " failed after " + seconds_text(outcome.seconds) +
             (outcome.error.empty() ? "" : ": " + outcome.error);
    case exec::StageStatus::kNotRun:
      if (outcome.error.rfind("not run", 0) == 0) return stage + " " + outcome.error;
      return stage + " not run" + (outcome.error.empty() ? "" : ": " + outcome.error);
  }
  return stage;
}

std::string ProgressRenderer::live_line(const std::string& stage_id) const {
  auto fields = fields_.find(stage_id);
  std::string line;
  if (fields != fields_.end() && !fields->second.empty()) {
    line = format_progress(stage_id, fields->second);
  } else {
    auto type = types_.find(stage_id);
    line = format_progress(stage_id, nlohmann::json::object()) +
           (type != types_.end() ? " " + type->second : std::string()) + " starting";
  }
  // A line as wide as the terminal would wrap (or park the cursor past the edge), and the
  // block's height would no longer be its line count.
  if (columns_ > 1 && line.size() > columns_ - 1) line.resize(columns_ - 1);
  return line;
}

std::string ProgressRenderer::redraw(const std::vector<std::string>& permanent) {
  std::string out = cursor_up(drawn_) + "\r";
  for (const std::string& line : permanent) out += kEraseLine + line + "\n";
  for (const std::string& id : order_) out += kEraseLine + live_line(id) + "\n";
  out += kEraseBelow;  // what is left of the previous block
  drawn_ = order_.size();
  return out;
}

void ProgressRenderer::forget(const std::string& stage_id) {
  order_.erase(std::remove(order_.begin(), order_.end(), stage_id), order_.end());
  types_.erase(stage_id);
  fields_.erase(stage_id);
}

std::string ProgressRenderer::stage_started(const std::string& stage_id, const std::string& type) {
  if (!terminal_) return "stage " + stage_id + " (" + type + ") started\n";
  if (std::find(order_.begin(), order_.end(), stage_id) == order_.end()) order_.push_back(stage_id);
  types_[stage_id] = type;
  return redraw({});
}

std::string ProgressRenderer::progress(const std::string& stage_id, const nlohmann::json& fields) {
  if (!terminal_) {
    // Plain logs: only at the end of an epoch (or of a step count without epochs).
    const bool epoch_end =
        fields.contains("steps") && fields.value("step", 0) == fields.value("steps", -1);
    return epoch_end ? format_progress(stage_id, fields).substr(2) + "\n" : std::string();
  }
  if (std::find(order_.begin(), order_.end(), stage_id) == order_.end()) order_.push_back(stage_id);
  fields_[stage_id] = fields;
  return redraw({});
}

std::string ProgressRenderer::log(const std::string& stage_id, const std::string& message) {
  if (!terminal_) return log_line(stage_id, message) + "\n";
  return redraw({log_line(stage_id, message)});
}

std::string ProgressRenderer::stage_ended(const exec::StageOutcome& outcome) {
  if (!terminal_) return finished_line(outcome) + "\n";
  forget(outcome.id);
  return redraw({finished_line(outcome)});
}

std::string ProgressRenderer::remove(const std::string& stage_id) {
  if (!terminal_ || std::find(order_.begin(), order_.end(), stage_id) == order_.end()) return "";
  forget(stage_id);
  return redraw({});
}

std::string ProgressRenderer::clear() {
  order_.clear();
  types_.clear();
  fields_.clear();
  if (!terminal_ || drawn_ == 0) return "";
  const std::string out = cursor_up(drawn_) + "\r" + kEraseBelow;
  drawn_ = 0;
  return out;
}

}  // namespace retort::cli
