#include "args.h"

#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace retort::cli {

bool Args::has(const std::string& flag) const {
  return std::find(flags.begin(), flags.end(), flag) != flags.end();
}

std::string Args::get(const std::string& key, const std::string& fallback) const {
  auto it = options.find(key);
  return it == options.end() ? fallback : it->second.back();
}

const std::vector<std::string>& Args::all(const std::string& key) const {
  static const std::vector<std::string> kNone;
  auto it = options.find(key);
  return it == options.end() ? kNone : it->second;
}

Expected<int64_t> Args::get_int(const std::string& key, int64_t fallback, int64_t min) const {
  auto it = options.find(key);
  if (it == options.end()) return fallback;
  const std::string& text = it->second.back();
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (end == text.c_str() || *end != '\0' || v < min)
    return make_error(ErrorCode::kInvalidArgument, key, ": expected an integer >= ", min, ", got '",
                      text, "'");
  return static_cast<int64_t>(v);
}

Expected<Args> parse_args(int argc, char** argv, int first, const std::vector<std::string>& valued,
                          const std::vector<std::string>& switches) {
  Args args;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    std::string value;
    const size_t eq = a.find('=');
    const bool inline_value = a.rfind("--", 0) == 0 && eq != std::string::npos;
    if (inline_value) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    if (a.rfind("--", 0) != 0 || a == "--") {
      args.positional.push_back(a);
      continue;
    }
    if (std::find(switches.begin(), switches.end(), a) != switches.end() && !inline_value) {
      args.flags.push_back(a);
    } else if (std::find(valued.begin(), valued.end(), a) != valued.end()) {
      if (!inline_value) {
        if (i + 1 >= argc)
          return make_error(ErrorCode::kInvalidArgument, "option ", a, " needs a value");
        value = argv[++i];
      }
      args.options[a].push_back(value);
    } else {
      return make_error(ErrorCode::kInvalidArgument, "unknown option ", a, " (see --help)");
    }
  }
  return args;
}

int fail(const Status& status, int code) {
  std::fprintf(stderr, "retort: error: %s\n", status.message().c_str());
  return code;
}

Status apply_threads(const Args& args) {
  auto threads = args.get_int("--threads", 0, 0);
  if (!threads.ok()) return threads.status();
  if (*threads > 0) omp_set_num_threads(static_cast<int>(*threads));
  return Status::Ok();
}

}  // namespace retort::cli
