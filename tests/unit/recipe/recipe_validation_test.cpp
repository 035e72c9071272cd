// One broken recipe per kind of error: each must give exactly one diagnostic, at the right
// JSON path, saying what is wrong.
#include <gtest/gtest.h>

#include <functional>

#include "recipe/recipe_fixture.h"
#include "recipe/test_registry.h"
#include "retort/recipe/recipe.h"

namespace retort::recipe {
namespace {

using nlohmann::json;
using testing::RecipeFolder;

struct BrokenRecipe {
  const char* name;
  std::function<void(json&)> breakage;
  std::string where;
  std::vector<std::string> message_has;
};

std::string dump(const std::vector<Diagnostic>& problems) {
  return format_diagnostics(problems, "recipe.json");
}

class BrokenRecipes : public ::testing::TestWithParam<BrokenRecipe> {};

TEST_P(BrokenRecipes, GiveOneLocatedDiagnostic) {
  const BrokenRecipe& c = GetParam();
  json recipe = RecipeFolder::valid_recipe();
  c.breakage(recipe);
  std::vector<Diagnostic> problems;
  auto parsed = RecipeFolder::get().parse(recipe, &problems);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), ErrorCode::kInvalidArgument);
  ASSERT_EQ(problems.size(), 1u) << dump(problems);
  EXPECT_EQ(problems[0].where, c.where) << dump(problems);
  for (const std::string& part : c.message_has)
    EXPECT_NE(problems[0].message.find(part), std::string::npos)
        << "missing \"" << part << "\" in: " << problems[0].message;
  // The error value carries the same text, located in the file.
  EXPECT_NE(parsed.status().message().find("recipe.json: " + c.where + ": "), std::string::npos)
      << parsed.status().message();
}

json& stage(json& recipe, const char* id) {
  for (json& s : recipe["stages"])
    if (s["id"] == id) return s;
  throw std::runtime_error("no stage in the test recipe");
}

const BrokenRecipe kBroken[] = {
    // Top level.
    {"UnknownTopLevelKey",
     [](json& r) { r["descripton"] = "x"; },
     "/descripton",
     {"unknown key for a recipe", "did you mean 'description'?", "known keys: version"}},
    {"MissingVersion",
     [](json& r) { r.erase("version"); },
     "/version",
     {"required key is missing", "\"version\": 1"}},
    {"WrongVersion",
     [](json& r) { r["version"] = 2; },
     "/version",
     {"unsupported recipe version 2", "version 1"}},
    {"NegativeSeed",
     [](json& r) { r["seed"] = -1; },
     "/seed",
     {"expected an integer >= 0, found number -1"}},
    {"NoStages",
     [](json& r) { r["stages"] = json::array(); },
     "/stages",
     {"expected a non-empty array of stages, found array []"}},
    // Data.
    {"UnknownDataKey",
     [](json& r) { r["data"]["train_sise"] = 4; },
     "/data/train_sise",
     {"unknown key for \"data\"", "did you mean 'train_size'?"}},
    {"UnknownDataset",
     [](json& r) { r["data"]["dataset"] = "idxx"; },
     "/data/dataset",
     {"expected \"fashion-mnist\" or \"idx\"", "did you mean 'idx'?"}},
    {"MissingDataFile",
     [](json& r) { r["data"]["train_labels"] = "data/nope.idx"; },
     "/data/train_labels",
     {"data/nope.idx", "no such file"}},
    {"MissingIdxPath",
     [](json& r) { r["data"].erase("test_images"); },
     "/data/test_images",
     {"required for \"dataset\": \"idx\""}},
    {"SliceLargerThanData",
     [](json& r) { r["data"]["train_size"] = 100; },
     "/data/train_size",
     {"asks for 100 samples", "holds 12", "at most 12"}},
    {"ZeroSlice",
     [](json& r) { r["data"]["test_size"] = 0; },
     "/data/test_size",
     {"expected an integer >= 1, found number 0"}},
    {"TooFewClassNames",
     [](json& r) {
       r["data"]["class_names"] = {"a", "b"};
     },
     "/data/class_names",
     {"2 names", "labels go up to 2"}},
    {"ClassNameNotAString",
     [](json& r) { r["data"]["class_names"][1] = 1; },
     "/data/class_names/1",
     {"expected a class name (a string), found number 1"}},
    // Models.
    {"MissingOnnxFile",
     [](json& r) { r["models"]["ext"]["onnx"] = "missing.onnx"; },
     "/models/ext/onnx",
     {"missing.onnx' not found", "recipe's folder"}},
    {"CorruptOnnxFile",
     [](json& r) { r["models"]["ext"]["onnx"] = "corrupt.onnx"; },
     "/models/ext/onnx",
     {"corrupt.onnx"}},
    {"BadArchitectureValue",
     [](json& r) {
       r["models"]["mlp"]["hidden"] = {16, 0};
     },
     "/models/mlp/hidden/1",
     {"expected"}},
    {"UnknownArchitectureKey",
     [](json& r) { r["models"]["mlp"]["hiden"] = {16}; },
     "/models/mlp/hiden",
     {"did you mean 'hidden'?"}},
    {"ModelDoesNotFitTheImages",
     [](json& r) {
       r["models"]["mlp"]["input"] = {1, 28, 28};
     },
     "/models/mlp/input",
     {"[1,28,28]", "[1,8,8]"}},
    {"ModelHasTooFewClasses",
     [](json& r) { r["models"]["mlp"]["classes"] = 2; },
     "/models/mlp/classes",
     {"2 outputs", "3 classes"}},
    // Stage keys, ids and types.
    {"UnknownStageKey",
     [](json& r) {
       stage(r, "kd")["parmas"] = stage(r, "kd")["params"];
       stage(r, "kd").erase("params");
     },
     "/stages/2/parmas",
     {"unknown key for a stage", "did you mean 'params'?"}},
    {"MissingId",
     [](json& r) { stage(r, "summary").erase("id"); },
     "/stages/4/id",
     {"required key is missing"}},
    {"DuplicateId",
     [](json& r) { stage(r, "summary")["id"] = "eval"; },
     "/stages/4/id",
     {"duplicate stage id 'eval'", "/stages/3"}},
    {"InvalidId",
     [](json& r) { stage(r, "summary")["id"] = "Sum mary"; },
     "/stages/4/id",
     {"invalid stage id 'Sum mary'", "lower-case"}},
    {"ReservedId",
     [](json& r) { stage(r, "summary")["id"] = "models"; },
     "/stages/4/id",
     {"'models' is reserved"}},
    {"UnknownType",
     [](json& r) { stage(r, "summary")["type"] = "reprot"; },
     "/stages/4/type",
     {"unknown stage type 'reprot'", "did you mean 'report'?",
      "known types: distill, ensemble, evaluate, report, train"}},
    {"StageSeedNotAnInteger",
     [](json& r) { stage(r, "kd")["seed"] = "one"; },
     "/stages/2/seed",
     {"expected an integer >= 0, found string \"one\""}},
    // Params.
    {"ParamWrongType",
     [](json& r) { stage(r, "teacher")["params"]["epochs"] = "five"; },
     "/stages/0/params/epochs",
     {"expected an integer >= 1, found string \"five\""}},
    {"ParamOutOfRange",
     [](json& r) { stage(r, "kd")["params"]["temperature"] = -1; },
     "/stages/2/params/temperature",
     {"expected a number > 0, found number -1"}},
    {"UnknownParam",
     [](json& r) { stage(r, "teacher")["params"]["epoch"] = 3; },
     "/stages/0/params/epoch",
     {"unknown key", "did you mean 'epochs'?"}},
    {"ParamNotInEnum",
     [](json& r) { stage(r, "teacher")["params"]["optimizer"] = "adma"; },
     "/stages/0/params/optimizer",
     {"one of \"sgd\", \"adam\"", "did you mean 'adam'?"}},
    {"NestedParam",
     [](json& r) {
       stage(r, "teacher")["params"]["augment"] = {{"crop", -2}};
     },
     "/stages/0/params/augment/crop",
     {"expected an integer >= 0, found number -2"}},
    {"ParamsNotAnObject",
     [](json& r) {
       stage(r, "teacher")["params"] = {1, 2};
     },
     "/stages/0/params",
     {"expected an object of parameters"}},
    // Inputs.
    {"UnknownInputPort",
     [](json& r) { stage(r, "summary")["inputs"]["metrix"] = "eval.metrics"; },
     "/stages/4/inputs/metrix",
     {"stage type 'report' has no input port 'metrix'", "did you mean 'metrics'?"}},
    {"RequiredInputMissing",
     [](json& r) { stage(r, "student").erase("inputs"); },
     "/stages/1/inputs/model",
     {"required input 'model' of stage type 'train' is not bound"}},
    {"ListOnSinglePort",
     [](json& r) { stage(r, "teacher")["inputs"]["model"] = {"models.mlp"}; },
     "/stages/0/inputs/model",
     {"takes one reference, found a list"}},
    {"EmptyListOnRequiredPort",
     [](json& r) { stage(r, "eval")["inputs"]["models"] = json::array(); },
     "/stages/3/inputs/models",
     {"needs at least one reference"}},
    {"DanglingStage",
     [](json& r) { stage(r, "eval")["inputs"]["models"][1] = "kb.model"; },
     "/stages/3/inputs/models/1",
     {"no stage 'kb'", "did you mean 'kd'?", "stages: teacher"}},
    {"DanglingOutputPort",
     [](json& r) { stage(r, "eval")["inputs"]["models"][1] = "kd.modle"; },
     "/stages/3/inputs/models/1",
     {"stage 'kd' (type 'distill') has no output 'modle'", "did you mean 'model'?"}},
    {"DanglingModel",
     [](json& r) { stage(r, "teacher")["inputs"]["model"] = "models.mpl"; },
     "/stages/0/inputs/model",
     {"no model 'mpl'", "did you mean 'mlp'?", "models: ext, mlp"}},
    {"NotAReference",
     [](json& r) { stage(r, "kd")["inputs"]["teacher"] = "teacher"; },
     "/stages/2/inputs/teacher",
     {"'teacher' is not a reference", "did you mean 'teacher.model'?"}},
    {"ReferenceNotAString",
     [](json& r) { stage(r, "kd")["inputs"]["teacher"] = 3; },
     "/stages/2/inputs/teacher",
     {"expected a reference", "found number 3"}},
    {"MetricsIntoModelPort",
     [](json& r) {
       r["stages"].push_back({{"id", "late"},
                              {"type", "distill"},
                              {"inputs", {{"teacher", "eval.metrics"}, {"student", "kd.model"}}}});
     },
     "/stages/5/inputs/teacher",
     {"'eval.metrics' is a metrics output but port 'teacher' of stage type 'distill' takes a "
      "model"}},
    {"ModelIntoMetricsPort",
     [](json& r) { stage(r, "summary")["inputs"]["metrics"] = "kd.model"; },
     "/stages/4/inputs/metrics",
     {"'kd.model' is a model output but port 'metrics' of stage type 'report' takes metrics"}},
    {"RecipeModelIntoMetricsPort",
     [](json& r) { stage(r, "summary")["inputs"]["metrics"] = "models.mlp"; },
     "/stages/4/inputs/metrics",
     {"'models.mlp' is a model but port 'metrics'"}},
    {"ListOutputIntoSinglePort",
     [](json& r) {
       r["stages"].push_back(
           {{"id", "ens"}, {"type", "ensemble"}, {"inputs", {{"members", {"teacher.model"}}}}});
       stage(r, "kd")["inputs"]["student"] = "ens.models";
     },
     "/stages/2/inputs/student",
     {"'ens.models' is a list", "takes one"}},
    {"Cycle",
     [](json& r) { stage(r, "teacher")["inputs"]["model"] = "kd.model"; },
     "/stages/0/inputs/model",
     {"cycle: teacher -> kd -> teacher"}},
    {"SelfLoop",
     [](json& r) { stage(r, "student")["inputs"]["model"] = "student.model"; },
     "/stages/1/inputs/model",
     {"cycle: student -> student"}},
};

INSTANTIATE_TEST_SUITE_P(Recipe, BrokenRecipes, ::testing::ValuesIn(kBroken),
                         [](const auto& info) { return std::string(info.param.name); });

// retort eval/train --data take a data section outside a recipe: the same checks must give the
// same diagnostics (they used to skip them: "test_size": 0 evaluated on no images).
TEST(RecipeValidation, DataSectionAloneGivesTheRecipesDiagnostics) {
  const std::string base = RecipeFolder::get().dir();
  int compared = 0;
  for (const BrokenRecipe& c : kBroken) {
    if (c.where.rfind("/data", 0) != 0) continue;
    SCOPED_TRACE(c.name);
    json recipe = RecipeFolder::valid_recipe();
    c.breakage(recipe);
    const json data = recipe.contains("data") ? recipe["data"] : json::object();
    std::vector<Diagnostic> in_recipe, alone;
    ASSERT_FALSE(RecipeFolder::get().parse(recipe, &in_recipe).ok());
    auto resolved = resolve_data_section(data, "--data", base, &alone);
    ASSERT_FALSE(resolved.ok()) << resolved->dump();
    EXPECT_EQ(resolved.status().code(), ErrorCode::kInvalidArgument);
    ASSERT_EQ(alone.size(), in_recipe.size()) << dump(alone) << "vs\n" << dump(in_recipe);
    for (size_t i = 0; i < alone.size(); ++i) {
      EXPECT_EQ(alone[i].where, in_recipe[i].where);
      EXPECT_EQ(alone[i].message, in_recipe[i].message);
      EXPECT_NE(
          resolved.status().message().find("--data: " + alone[i].where + ": " + alone[i].message),
          std::string::npos)
          << resolved.status().message();
    }
    ++compared;
  }
  EXPECT_GE(compared, 5);

  // A valid section resolves to what the recipe resolves it to.
  const json recipe = RecipeFolder::valid_recipe();
  auto parsed = RecipeFolder::get().parse(recipe, nullptr);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  auto resolved = resolve_data_section(recipe["data"], "--data", base);
  ASSERT_TRUE(resolved.ok()) << resolved.status().message();
  EXPECT_EQ(*resolved, parsed->data);
}

TEST(RecipeValidation, ReportsEveryProblemInOnePass) {
  json recipe = RecipeFolder::valid_recipe();
  recipe["stagez"] = 1;                                      // unknown key
  stage(recipe, "kd")["params"]["temperature"] = "hot";      // wrong type
  stage(recipe, "eval")["inputs"]["models"][0] = "x.model";  // dangling
  std::vector<Diagnostic> problems;
  auto parsed = RecipeFolder::get().parse(recipe, &problems);
  ASSERT_FALSE(parsed.ok());
  ASSERT_EQ(problems.size(), 3u) << dump(problems);
  EXPECT_EQ(problems[0].where, "/stagez");
  EXPECT_EQ(problems[1].where, "/stages/2/params/temperature");
  EXPECT_EQ(problems[2].where, "/stages/3/inputs/models/0");
  // The error lists them all, one per line.
  const std::string& message = parsed.status().message();
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 2) << message;
}

TEST(RecipeValidation, KindMismatchAndCycleTogether) {
  json recipe = RecipeFolder::valid_recipe();
  stage(recipe, "kd")["inputs"]["teacher"] = "eval.metrics";
  std::vector<Diagnostic> problems;
  ASSERT_FALSE(RecipeFolder::get().parse(recipe, &problems).ok());
  ASSERT_EQ(problems.size(), 2u) << dump(problems);
  EXPECT_NE(problems[0].message.find("is a metrics output but port 'teacher'"), std::string::npos);
  EXPECT_NE(problems[1].message.find("cycle: kd -> eval -> kd"), std::string::npos)
      << problems[1].message;
}

TEST(RecipeValidation, ProblemsAcrossSectionsDoNotCascade) {
  json recipe = RecipeFolder::valid_recipe();
  recipe["models"]["mlp"]["arch"] = "mpl";    // the model is broken, but still declared
  stage(recipe, "summary")["type"] = "nope";  // unknown type: its inputs are not judged
  std::vector<Diagnostic> problems;
  ASSERT_FALSE(RecipeFolder::get().parse(recipe, &problems).ok());
  ASSERT_EQ(problems.size(), 2u) << dump(problems);
  EXPECT_EQ(problems[0].where, "/models/mlp/arch");
  EXPECT_NE(problems[0].message.find("did you mean 'mlp'?"), std::string::npos);
  EXPECT_EQ(problems[1].where, "/stages/4/type");
}

TEST(RecipeValidation, SyntaxErrorHasLineAndColumn) {
  const std::string text =
      "{\n"
      "  \"version\": 1,\n"
      "  \"stages\": [\n"
      "    {\"id\": \"a\" \"type\": \"train\"}\n"
      "  ]\n"
      "}\n";
  std::vector<Diagnostic> problems;
  auto parsed = parse_recipe(text, "bad.json", testing::test_registry(), &problems);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), ErrorCode::kParse);
  ASSERT_EQ(problems.size(), 1u);
  // The unexpected token is "type" on line 4, which starts at column 16.
  EXPECT_EQ(problems[0].where.rfind("line 4, column ", 0), 0u) << problems[0].where;
  const int column = std::stoi(problems[0].where.substr(std::string("line 4, column ").size()));
  EXPECT_GE(column, 16);
  EXPECT_LE(column, 21);
  EXPECT_NE(problems[0].message.find("syntax error"), std::string::npos) << problems[0].message;
  EXPECT_EQ(problems[0].message.find("json.exception"), std::string::npos) << problems[0].message;
  EXPECT_NE(parsed.status().message().find("bad.json: line 4, column "), std::string::npos);
}

TEST(RecipeValidation, TrailingCommaIsPointedOut) {
  std::vector<Diagnostic> problems;
  auto parsed =
      parse_recipe("{\"version\": 1,\n \"seed\": 2,\n}", "", testing::test_registry(), &problems);
  ASSERT_FALSE(parsed.ok());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].where, "line 3, column 1");
  EXPECT_NE(problems[0].message.find("trailing comma"), std::string::npos) << problems[0].message;
}

TEST(RecipeValidation, DuplicateKeysAreReported) {
  const std::string text = R"({"version": 1, "seed": 1,
    "stages": [{"id": "a", "type": "train", "inputs": {"model": "models.m"},
                "params": {"epochs": 2, "lr": 0.1, "epochs": 3}}],
    "models": {"m": {"onnx": "ext.onnx"}}, "seed": 2, "data": )" +
                           RecipeFolder::valid_recipe()["data"].dump() + "}";
  std::vector<Diagnostic> problems;
  auto parsed =
      parse_recipe(text, RecipeFolder::get().recipe_path(), testing::test_registry(), &problems);
  ASSERT_FALSE(parsed.ok());
  ASSERT_EQ(problems.size(), 2u) << dump(problems);
  EXPECT_EQ(problems[0].where, "/stages/0/params/epochs");
  EXPECT_NE(problems[0].message.find("duplicate key 'epochs'"), std::string::npos);
  EXPECT_EQ(problems[1].where, "/seed");
}

TEST(RecipeValidation, RecipeMustBeAnObject) {
  std::vector<Diagnostic> problems;
  ASSERT_FALSE(parse_recipe("[1]", "", testing::test_registry(), &problems).ok());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].where, "/");
  EXPECT_NE(problems[0].message.find("expected a recipe object"), std::string::npos);
}

TEST(RecipeValidation, UnreadableFileIsNotFound) {
  std::vector<Diagnostic> problems;
  auto loaded = load_recipe("/nonexistent/recipe.json", testing::test_registry(), &problems);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), ErrorCode::kNotFound);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0]
                .format("/nonexistent/recipe.json")
                .find("/nonexistent/recipe.json: cannot read the recipe: No such file"),
            std::string::npos)
      << problems[0].format("/nonexistent/recipe.json");
}

TEST(RecipeValidation, MissingFashionMnistFolderIsNamed) {
  json recipe = RecipeFolder::valid_recipe();
  recipe["data"] = {{"dir", "no-such-folder"}};
  recipe["models"].erase("mlp");
  stage(recipe, "teacher")["inputs"]["model"] = "models.ext";
  std::vector<Diagnostic> problems;
  ASSERT_FALSE(RecipeFolder::get().parse(recipe, &problems).ok());
  ASSERT_EQ(problems.size(), 1u) << dump(problems);
  EXPECT_EQ(problems[0].where, "/data/dir");
  EXPECT_NE(problems[0].message.find(RecipeFolder::get().dir() + "/no-such-folder"),
            std::string::npos)
      << problems[0].message;
  EXPECT_NE(problems[0].message.find("dataset-fashion-mnist"), std::string::npos);
}

}  // namespace
}  // namespace retort::recipe
