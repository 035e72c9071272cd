#include <algorithm>
#include <set>
#include <string>

#include "recipe/sections.h"
#include "retort/core/json_util.h"

namespace retort::recipe::detail {
namespace {

using nlohmann::json;

// Finds keys given twice in one object, which nlohmann (like most parsers) resolves silently
// by keeping the last value: in a recipe that quietly drops settings.
class DuplicateKeys : public nlohmann::json_sax<json> {
 public:
  explicit DuplicateKeys(const Checker& checker) : checker_(checker) {}

  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override { return open(true); }
  bool start_array(std::size_t) override { return open(false); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& key) override {
    Frame& top = frames_.back();
    if (!top.keys.insert(key).second)
      checker_.add(json_pointer_append(top.path, key),
                   "duplicate key '" + key + "'; JSON keeps only the last value, remove one");
    top.key = key;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  struct Frame {
    bool object;
    std::string path;
    std::set<std::string> keys;
    std::string key;   // of the value being read, in an object
    size_t index = 0;  // of the value being read, in an array
  };

  // JSON pointer of the value that starts now.
  std::string next_path() {
    if (frames_.empty()) return "";
    Frame& top = frames_.back();
    return top.object ? json_pointer_append(top.path, top.key)
                      : json_pointer_append(top.path, top.index++);
  }
  bool value() {
    next_path();
    return true;
  }
  bool open(bool object) {
    frames_.push_back({object, next_path(), {}, {}, 0});
    return true;
  }
  bool close() {
    frames_.pop_back();
    return true;
  }

  const Checker& checker_;
  std::vector<Frame> frames_;
};

}  // namespace

std::optional<json> parse_json_text(const std::string& text, const Checker& checker) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    // e.byte counts the characters read, the offending one included.
    const size_t offending = std::min<size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    size_t line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < offending; ++i) {
      if (text[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    }
    const size_t column = offending - line_start + 1;
    // Keep nlohmann's description, minus its "[json.exception...] parse error at ...: " prefix.
    std::string what = e.what();
    if (auto at = what.find("syntax error"); at != std::string::npos) {
      what = what.substr(at);
    } else if (auto colon = what.find(": "); colon != std::string::npos) {
      what = what.substr(colon + 2);
    }
    if (what.find("unexpected '}'") != std::string::npos ||
        what.find("unexpected ']'") != std::string::npos)
      what += " (a trailing comma? JSON allows none)";
    checker.problems->push_back(
        {"line " + std::to_string(line) + ", column " + std::to_string(column), "JSON " + what});
    return std::nullopt;
  }
  DuplicateKeys duplicates(checker);
  json::sax_parse(text, &duplicates);
  return doc;
}

}  // namespace retort::recipe::detail
