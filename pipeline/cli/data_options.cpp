#include "data_options.h"

#include <fstream>
#include <sstream>

namespace retort::cli {

Expected<nlohmann::json> json_argument(const std::string& text, const std::string& what) {
  std::string source = text;
  if (!text.empty() && text.front() != '{' && text.front() != '[') {
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

Expected<std::shared_ptr<const data::DataSplits>> load_data_option(const Args& args) {
  nlohmann::json section = nlohmann::json::object();
  if (args.options.count("--data")) {
    RETORT_ASSIGN_OR_RETURN(section, json_argument(args.get("--data"), "--data"));
    if (!section.is_object())
      return make_error(ErrorCode::kInvalidArgument, "--data: expected a JSON object");
  }
  RETORT_ASSIGN_OR_RETURN(int64_t train_size, args.get_int("--train-size", 0, 0));
  RETORT_ASSIGN_OR_RETURN(int64_t test_size, args.get_int("--test-size", 0, 0));
  if (train_size > 0) section["train_size"] = train_size;
  if (test_size > 0) section["test_size"] = test_size;
  return data::load_data_section(section);
}

}  // namespace retort::cli
