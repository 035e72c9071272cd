#include "data_options.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "retort/recipe/recipe.h"

namespace retort::cli {
namespace {

bool is_inline_json(const std::string& text) {
  return !text.empty() && (text.front() == '{' || text.front() == '[');
}

}  // namespace

Expected<nlohmann::json> json_argument(const std::string& text, const std::string& what) {
  std::string source = text;
  if (!is_inline_json(text)) {
    std::ifstream in(text);
    if (!in)
      return make_error(ErrorCode::kNotFound, what, ": no such file '", text,
                        "' (pass JSON or a file of it)");
    std::stringstream ss;
    ss << in.rdbuf();
    source = ss.str();
  }
  auto j = nlohmann::json::parse(source, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return make_error(ErrorCode::kParse, what, ": invalid JSON");
  return j;
}

Expected<nlohmann::json> resolve_data_option(const Args& args) {
  nlohmann::json section = nlohmann::json::object();
  std::string base_dir;  // the current folder
  if (args.options.count("--data")) {
    const std::string text = args.get("--data");
    RETORT_ASSIGN_OR_RETURN(section, json_argument(text, "--data"));
    if (!is_inline_json(text)) base_dir = std::filesystem::absolute(text).parent_path().string();
  }
  // The size options, when given, override the section's (and must be sizes: >= 1).
  const std::pair<const char*, const char*> sizes[] = {{"--train-size", "train_size"},
                                                       {"--test-size", "test_size"}};
  for (const auto& [option, key] : sizes) {
    if (!args.options.count(option)) continue;
    RETORT_ASSIGN_OR_RETURN(int64_t size, args.get_int(option, 0, 1));
    if (section.is_object()) section[key] = size;  // else the check below reports the section
  }
  return recipe::resolve_data_section(section, "--data", base_dir);
}

}  // namespace retort::cli
