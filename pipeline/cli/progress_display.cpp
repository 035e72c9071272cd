#include "progress_display.h"

#include <unistd.h>

#include <cstdio>

namespace retort::cli {

ProgressDisplay::ProgressDisplay() : tty_(isatty(STDERR_FILENO) != 0) {}

std::string ProgressDisplay::format(const std::string& stage_id, const nlohmann::json& p) {
  char line[256];
  auto num = [&](const char* k) { return p.contains(k) && p[k].is_number() ? p[k].get<double>() : -1.0; };
  int n = std::snprintf(line, sizeof line, "  %-14s", stage_id.c_str());
  if (num("epoch") >= 0)
    n += std::snprintf(line + n, sizeof line - n, " epoch %g/%g", num("epoch"), num("epochs"));
  if (num("step") >= 0) n += std::snprintf(line + n, sizeof line - n, " step %g/%g", num("step"), num("steps"));
  if (num("loss") >= 0) n += std::snprintf(line + n, sizeof line - n, " loss %.4f", num("loss"));
  if (num("accuracy") >= 0) n += std::snprintf(line + n, sizeof line - n, " acc %.4f", num("accuracy"));
  const double seconds = num("seconds");
  const double done = num("epoch") > 0 && num("steps") > 0
                          ? ((num("epoch") - 1) * num("steps") + num("step")) / (num("epochs") * num("steps"))
                          : -1;
  if (seconds > 0 && done > 0 && done < 1)
    std::snprintf(line + n, sizeof line - n, " eta %.0fs", seconds / done * (1 - done));
  return line;
}

void ProgressDisplay::redraw() {
  if (drawn_lines_ > 0) std::fprintf(stderr, "\x1b[%zuA", drawn_lines_);
  for (const auto& [id, p] : running_) std::fprintf(stderr, "\x1b[2K%s\n", format(id, p).c_str());
  // Clear lines left over from stages that finished since the last draw.
  for (size_t i = running_.size(); i < drawn_lines_; ++i) std::fprintf(stderr, "\x1b[2K\n");
  if (drawn_lines_ > running_.size()) std::fprintf(stderr, "\x1b[%zuA", drawn_lines_ - running_.size());
  drawn_lines_ = running_.size();
  std::fflush(stderr);
}

void ProgressDisplay::update(const std::string& stage_id, const nlohmann::json& progress) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (tty_) {
    running_[stage_id] = progress;
    redraw();
    return;
  }
  // Plain logs: only at the end of an epoch (or of a step count without epochs).
  const bool epoch_end = progress.contains("steps") && progress.value("step", 0) == progress.value("steps", -1);
  if (epoch_end) std::fprintf(stderr, "%s\n", format(stage_id, progress).c_str() + 2);
}

void ProgressDisplay::log(const std::string& stage_id, const std::string& message) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (tty_ && drawn_lines_ > 0) {
    std::fprintf(stderr, "\x1b[%zuA", drawn_lines_);
    drawn_lines_ = 0;
    std::fprintf(stderr, "\x1b[2K[%s] %s\n", stage_id.c_str(), message.c_str());
    redraw();
  } else {
    std::fprintf(stderr, "[%s] %s\n", stage_id.c_str(), message.c_str());
  }
}

void ProgressDisplay::finish(const std::string& stage_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (running_.erase(stage_id) && tty_) redraw();
}

}  // namespace retort::cli
