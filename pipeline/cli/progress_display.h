// Progress of running stages on stderr: on a terminal, one live line per running stage redrawn
// in place, each replaced by a one-line summary when its stage ends; otherwise plain log
// lines. The text comes from ProgressRenderer (progress_render.h); this class only writes it,
// one event at a time.
#pragma once

#include <mutex>
#include <string>

#include "nlohmann/json.hpp"
#include "progress_render.h"
#include "retort/exec/executor.h"

namespace retort::cli {

class ProgressDisplay {
 public:
  ProgressDisplay();  // a terminal when stderr is one

  void stage_started(const std::string& stage_id, const std::string& type);
  void update(const std::string& stage_id, const nlohmann::json& progress);
  void log(const std::string& stage_id, const std::string& message);
  void stage_ended(const exec::StageOutcome& outcome);
  // Drops a live line without a summary (a step that is not a recipe stage).
  void finish(const std::string& stage_id);
  // Erases the live lines before other output.
  void clear();

  // Connects the display to a run's observers.
  void observe(exec::RunOptions& options);

 private:
  void write(const std::string& text);

  std::mutex mutex_;
  ProgressRenderer renderer_;
};

}  // namespace retort::cli
