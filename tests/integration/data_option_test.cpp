// `retort eval/train --data`: a data section given on the command line is checked by the same
// rules, with the same messages, as a recipe's "data" section, and rejected as bad input (2).
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "cli_support.h"
#include "nlohmann/json.hpp"
#include "retort/arch/build_model.h"
#include "retort/graph/onnx_io.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using retort::cli_testing::Result;
using retort::cli_testing::run_cli;

class DataOption : public retort::cli_testing::TempDirTest {
 protected:
  // A small untrained MLP for Fashion-MNIST, saved as ONNX.
  std::string model() {
    const fs::path path = dir_ / "mlp.onnx";
    if (!fs::exists(path)) {
      auto m = retort::arch::build_model({{"arch", "mlp"}, {"hidden", {8}}}, 1);
      EXPECT_TRUE(m.ok()) << m.status().message();
      EXPECT_TRUE(retort::save_onnx(*m, path.string()).ok());
    }
    return path.string();
  }

  // What `retort validate` says about a recipe with this data section: its "/data..." lines,
  // without the file name in front.
  std::vector<std::string> recipe_problems(const json& data) {
    const json recipe = {
        {"version", 1},
        {"data", data},
        {"models", {{"mlp", {{"arch", "mlp"}, {"hidden", {8}}}}}},
        {"stages", {{{"id", "t"}, {"type", "train"}, {"inputs", {{"model", "models.mlp"}}}}}}};
    const std::string path = write("recipe.json", recipe);
    Result r = run_cli("validate " + path);
    EXPECT_EQ(r.code, 2) << r.out;
    std::vector<std::string> problems;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);)
      if (line.rfind(path + ": /data", 0) == 0) problems.push_back(line.substr(path.size() + 2));
    return problems;
  }
};

std::string quoted(const json& j) {
  return "'" + j.dump() + "'";  // no single quotes in these sections
}

TEST_F(DataOption, EverySectionTheRecipeRejectsIsRejectedWithTheSameMessage) {
  const std::vector<json> rejected = {
      {{"test_size", 0}},
      {{"test_size", -5}},
      {{"test_size", 1.5}},
      {{"train_size", "many"}},
      {{"test_size", 20000}},  // more than the 10,000 test images
      {{"test_sise", 100}},    // a typo: unknown key, with a did-you-mean
      {{"dataset", "mnist"}},
      {{"class_names", json::array()}},
      {{"class_names", {"a", "b"}}},  // Fashion-MNIST has ten classes
      {{"dir", (dir_ / "no-such-folder").string()}},
      {{"dataset", "idx"}},  // without its four files
      json::array(),
  };
  const std::string mlp = model();
  for (const json& data : rejected) {
    SCOPED_TRACE(data.dump());
    const std::vector<std::string> problems = recipe_problems(data);
    ASSERT_FALSE(problems.empty()) << "the recipe check accepts this section";
    for (const char* command : {"eval", "train"}) {
      SCOPED_TRACE(command);
      const std::string args =
          std::string(command) == "eval"
              ? "eval " + mlp + " --no-speed --data " + quoted(data)
              : "train --epochs 1 --out " + (dir_ / "t.onnx").string() + " --data " + quoted(data);
      Result r = run_cli(args);
      EXPECT_EQ(r.code, 2) << r.out;
      for (const std::string& p : problems)
        EXPECT_NE(r.out.find("--data: " + p), std::string::npos)
            << "missing \"--data: " << p << "\" in:\n"
            << r.out;
      EXPECT_EQ(r.out.find("accuracy"), std::string::npos) << r.out;
    }
  }
}

TEST_F(DataOption, SizeOptionsMustBePositiveAndAValidSectionStillEvaluates) {
  const std::string mlp = model();
  Result zero = run_cli("eval " + mlp + " --no-speed --test-size 0");
  EXPECT_EQ(zero.code, 2) << zero.out;
  EXPECT_NE(zero.out.find("--test-size: expected an integer >= 1, got '0'"), std::string::npos)
      << zero.out;

  // A section in a file: checked the same way.
  write("data.json", {{"test_size", 0}});
  Result file = run_cli("eval " + mlp + " --no-speed --data " + (dir_ / "data.json").string());
  EXPECT_EQ(file.code, 2) << file.out;
  EXPECT_NE(file.out.find("--data: /data/test_size: expected an integer >= 1, found number 0"),
            std::string::npos)
      << file.out;

  Result ok = run_cli("eval " + mlp + " --no-speed --json --data " + quoted({{"test_size", 120}}));
  ASSERT_EQ(ok.code, 0) << ok.out;
  const json j = json::parse(ok.out.substr(ok.out.find('{')));
  EXPECT_EQ(j["images"], 120);
  EXPECT_GT(j["loss"].get<double>(), 0.0);  // a real mean over 120 images, not the 0 of none
}

}  // namespace
