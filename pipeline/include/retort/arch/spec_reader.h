// Reads one JSON object of a model spec key by key, with defaults and located errors.
//
// Every getter records its key as known and writes the value it used (given or default)
// into a "resolved" JSON object, so that after a build the resolved spec holds every
// default. finish() then rejects the keys no getter asked for, with a did-you-mean.
// Errors carry the JSON pointer of the offending value ("/blocks/1/pad") and say what was
// expected and what was found.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "retort/core/json_util.h"
#include "retort/core/status.h"
#include "retort/core/text.h"

namespace retort::arch {

// The message helpers moved to retort/core; these keep arch::closest_match etc. working.
using retort::closest_match;
using retort::describe_json;
using retort::did_you_mean;
using retort::join;

class SpecReader {
 public:
  // `value` must be an object (else the error names `path`); `path` is its JSON pointer ("" for
  // the root); `resolved` (not null) receives the values used. `value` and `resolved` must
  // outlive the reader.
  static Expected<SpecReader> open(const nlohmann::json& value, std::string path,
                                   nlohmann::json* resolved);

  // JSON pointer of the object, "/" for the root.
  std::string path() const { return path_.empty() ? "/" : path_; }
  // JSON pointer of a key of this object ("/blocks/0/conv").
  std::string path_of(std::string_view key) const;
  // An kInvalidArgument error located at `key`: "<path>: <message>".
  template <typename... Args>
  Status error(std::string_view key, Args&&... message) const {
    return make_error(ErrorCode::kInvalidArgument, path_of(key), ": ",
                      std::forward<Args>(message)...);
  }

  // Whether the key is present. Also records it as known.
  bool has(std::string_view key);
  // The raw value (nullptr when absent) for keys with a mixed type; records it as known. Write
  // the value used with resolve().
  const nlohmann::json* raw(std::string_view key);
  void resolve(std::string_view key, nlohmann::json value);

  // Getters. `fallback` nullopt means the key is required. Range checks are inclusive.
  static constexpr int64_t kNoMin = std::numeric_limits<int64_t>::min();
  static constexpr int64_t kNoMax = std::numeric_limits<int64_t>::max();
  Expected<int64_t> get_int(std::string_view key, std::optional<int64_t> fallback,
                            int64_t min = kNoMin, int64_t max = kNoMax);
  Expected<double> get_number(std::string_view key, std::optional<double> fallback);
  Expected<bool> get_bool(std::string_view key, std::optional<bool> fallback);
  Expected<std::string> get_string(std::string_view key, std::optional<std::string> fallback);
  // A string from a fixed set; an unknown value gets a did-you-mean and the list.
  Expected<std::string> get_choice(std::string_view key, std::optional<std::string> fallback,
                                   const std::vector<std::string>& choices);
  // An array of integers, each from `min` to `max`; `size` (when not nullopt) is the exact
  // length.
  Expected<std::vector<int64_t>> get_int_list(std::string_view key,
                                              std::optional<std::vector<int64_t>> fallback,
                                              int64_t min = kNoMin,
                                              std::optional<size_t> size = std::nullopt,
                                              int64_t max = kNoMax);
  // A number applying to every channel, or an array of `size` numbers.
  Expected<std::vector<double>> get_number_or_list(std::string_view key, double fallback,
                                                   size_t size);
  // An array of strings; nullopt when absent.
  Expected<std::optional<std::vector<std::string>>> get_optional_string_list(std::string_view key);
  // A nested object; `fallback` (may be null: required) is read when the key is absent.
  Expected<SpecReader> get_object(std::string_view key, const nlohmann::json* fallback);
  // An array of objects, one reader per element (paths "/key/0", "/key/1", ...).
  Expected<std::vector<SpecReader>> get_object_list(std::string_view key,
                                                    const nlohmann::json* fallback,
                                                    size_t min_size = 0);

  // Rejects keys that no getter asked for: "/hiden: unknown key for <what> (did you mean
  // 'hidden'?); known keys: ...". `what` names the object, e.g. "architecture 'mlp'".
  Status finish(std::string_view what) const;

  // Keys asked for so far.
  std::vector<std::string> known_keys() const { return {known_.begin(), known_.end()}; }

 private:
  SpecReader(const nlohmann::json* value, std::string path, nlohmann::json* resolved)
      : value_(value), path_(std::move(path)), resolved_(resolved) {}
  // The value of `key`, or nullptr if absent. Records the key as known.
  const nlohmann::json* find(std::string_view key);
  Status missing(std::string_view key) const;

  const nlohmann::json* value_;
  std::string path_;
  nlohmann::json* resolved_;
  std::set<std::string, std::less<>> known_;
};

}  // namespace retort::arch
