// Progress of running stages: on a terminal, one live line per running stage redrawn in
// place; otherwise plain log lines (one per epoch or finished step group).
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "nlohmann/json.hpp"

namespace retort::cli {

class ProgressDisplay {
 public:
  ProgressDisplay();
  void update(const std::string& stage_id, const nlohmann::json& progress);
  void log(const std::string& stage_id, const std::string& message);
  void finish(const std::string& stage_id);

 private:
  void redraw();
  static std::string format(const std::string& stage_id, const nlohmann::json& p);

  const bool tty_;
  std::mutex mutex_;
  std::map<std::string, nlohmann::json> running_;
  size_t drawn_lines_ = 0;
};

}  // namespace retort::cli
