// Command-line parsing shared by the retort commands: "--key value" options and "--flag"s.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "retort/core/status.h"

namespace retort::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // a stage or the work failed
inline constexpr int kExitUsage = 2;   // bad usage or an invalid recipe

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> options;  // repeatable options keep all values
  std::vector<std::string> flags;

  bool has(const std::string& flag) const;
  std::string get(const std::string& key, const std::string& fallback = "") const;
  const std::vector<std::string>& all(const std::string& key) const;
  Expected<int64_t> get_int(const std::string& key, int64_t fallback, int64_t min) const;
};

// `valued` options take the next argument; `switches` take none. Unknown options are errors.
Expected<Args> parse_args(int argc, char** argv, int first, const std::vector<std::string>& valued,
                          const std::vector<std::string>& switches);

// Prints "retort: error: <message>" to stderr and returns `code`.
int fail(const Status& status, int code);

// Applies --threads N (OpenMP threads for oneDNN); 0 or absent keeps the default.
Status apply_threads(const Args& args);

}  // namespace retort::cli
