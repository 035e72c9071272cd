// The text of the progress display, without any I/O: every event returns the bytes to write,
// so that tests can check them without a terminal.
//
// On a terminal the running stages' live lines form a block at the bottom of the screen, one
// line per stage (cut to the terminal width so that none wraps), redrawn in place with ANSI
// escapes. A permanent line (a log message, a finished stage's "stage X ran in N s") is written
// over the top of the block, and the block of the stages still running is drawn again below
// it; so a finishing stage's live line is replaced by its one clean summary line. Elsewhere
// (a file, a pipe) there are only plain lines: starts, one progress line per epoch, log
// messages and finishes.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "retort/exec/executor.h"

namespace retort::cli {

class ProgressRenderer {
 public:
  // `columns`: the terminal's width (0: do not cut lines).
  explicit ProgressRenderer(bool terminal, size_t columns = 80);

  bool terminal() const { return terminal_; }
  void set_columns(size_t columns) { columns_ = columns; }

  std::string stage_started(const std::string& stage_id, const std::string& type);
  std::string progress(const std::string& stage_id, const nlohmann::json& fields);
  std::string log(const std::string& stage_id, const std::string& message);
  std::string stage_ended(const exec::StageOutcome& outcome);
  // Drops a stage's live line without a summary line.
  std::string remove(const std::string& stage_id);
  // Erases the live block and forgets the running stages (before other output).
  std::string clear();

  // "  teacher        epoch 2/5 step 10/469 loss 0.4321 acc 0.8456 eta 75s".
  static std::string format_progress(const std::string& stage_id, const nlohmann::json& fields);
  // "stage teacher ran in 12.3 s", "stage x failed after 0.2 s: ...", "stage y cached".
  static std::string finished_line(const exec::StageOutcome& outcome);

 private:
  std::string live_line(const std::string& stage_id) const;
  // Terminal: `permanent` lines above, then the live block redrawn.
  std::string redraw(const std::vector<std::string>& permanent);
  void forget(const std::string& stage_id);

  const bool terminal_;
  size_t columns_;
  std::vector<std::string> order_;  // running stages, in the order they started
  std::map<std::string, std::string> types_;
  std::map<std::string, nlohmann::json> fields_;
  size_t drawn_ = 0;  // live lines on screen, ending just above the cursor
};

}  // namespace retort::cli
