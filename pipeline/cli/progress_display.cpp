#include "progress_display.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>

namespace retort::cli {
namespace {

size_t terminal_columns() {
  winsize size{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

}  // namespace

ProgressDisplay::ProgressDisplay() : renderer_(isatty(STDERR_FILENO) != 0) {}

void ProgressDisplay::write(const std::string& text) {
  if (text.empty()) return;
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

void ProgressDisplay::stage_started(const std::string& stage_id, const std::string& type) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (renderer_.terminal()) renderer_.set_columns(terminal_columns());
  write(renderer_.stage_started(stage_id, type));
}

void ProgressDisplay::update(const std::string& stage_id, const nlohmann::json& progress) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (renderer_.terminal()) renderer_.set_columns(terminal_columns());
  write(renderer_.progress(stage_id, progress));
}

void ProgressDisplay::log(const std::string& stage_id, const std::string& message) {
  std::lock_guard<std::mutex> lock(mutex_);
  write(renderer_.log(stage_id, message));
}

void ProgressDisplay::stage_ended(const exec::StageOutcome& outcome) {
  std::lock_guard<std::mutex> lock(mutex_);
  write(renderer_.stage_ended(outcome));
}

void ProgressDisplay::finish(const std::string& stage_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  write(renderer_.remove(stage_id));
}

void ProgressDisplay::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  write(renderer_.clear());
}

void ProgressDisplay::observe(exec::RunOptions& options) {
  options.on_stage_start = [this](const std::string& id, const std::string& type) {
    stage_started(id, type);
  };
  options.on_progress = [this](const std::string& id, const nlohmann::json& p) { update(id, p); };
  options.on_log = [this](const std::string& id, const std::string& m) { log(id, m); };
  options.on_stage_end = [this](const exec::StageOutcome& outcome) { stage_ended(outcome); };
}

}  // namespace retort::cli
