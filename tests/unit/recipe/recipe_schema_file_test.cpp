// recipes/schema/recipe.schema.json (for editors) must describe what the validator accepts.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "recipe/recipe_fixture.h"
#include "retort/arch/build_model.h"
#include "retort/engine/init.h"

namespace retort::recipe {
namespace {

using nlohmann::json;
using testing::RecipeFolder;

json editor_schema() {
  std::ifstream file(std::string(RETORT_TEST_DATA_DIR) +
                     "/../../recipes/schema/recipe.schema.json");
  EXPECT_TRUE(file.good());
  return json::parse(file);
}

std::set<std::string> keys_of(const json& object) {
  std::set<std::string> keys;
  for (const auto& [key, unused] : object.items()) keys.insert(key);
  return keys;
}

// The keys the validator accepts at `where`, read from its unknown-key message.
std::set<std::string> accepted_keys(const std::function<void(json&)>& add_unknown_key,
                                    const std::string& where) {
  json recipe = RecipeFolder::valid_recipe();
  add_unknown_key(recipe);
  std::vector<Diagnostic> problems;
  EXPECT_FALSE(RecipeFolder::get().parse(recipe, &problems).ok());
  std::set<std::string> keys;
  for (const Diagnostic& d : problems) {
    if (d.where != where) continue;
    const std::string marker = "known keys: ";
    std::string list = d.message.substr(d.message.find(marker) + marker.size());
    for (size_t start = 0; start <= list.size();) {
      size_t end = list.find(", ", start);
      if (end == std::string::npos) end = list.size();
      keys.insert(list.substr(start, end - start));
      start = end + 2;
    }
  }
  return keys;
}

TEST(RecipeSchemaFile, KeysMatchTheValidator) {
  const json schema = editor_schema();
  EXPECT_EQ(keys_of(schema["properties"]), accepted_keys([](json& r) { r["zzzz"] = 1; }, "/zzzz"));
  EXPECT_EQ(keys_of(schema["definitions"]["stage"]["properties"]),
            accepted_keys([](json& r) { r["stages"][0]["zzzz"] = 1; }, "/stages/0/zzzz"));
  EXPECT_EQ(keys_of(schema["definitions"]["data"]["properties"]),
            accepted_keys([](json& r) { r["data"]["zzzz"] = 1; }, "/data/zzzz"));
}

TEST(RecipeSchemaFile, EnumsMatchTheEngine) {
  const json arch = editor_schema()["definitions"]["arch_spec"]["properties"];
  EXPECT_EQ(arch["arch"]["enum"].get<std::vector<std::string>>(), arch::known_architectures());
  std::vector<std::string> inits = engine::init_kind_names();
  std::vector<std::string> listed = arch["init"]["enum"].get<std::vector<std::string>>();
  std::sort(inits.begin(), inits.end());
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(listed, inits);
}

TEST(RecipeSchemaFile, EditorKeysAreAccepted) {
  json recipe = RecipeFolder::valid_recipe();
  recipe["$schema"] = "schema/recipe.schema.json";
  recipe["description"] = "a teacher, a student and distillation";
  recipe["stages"][0]["description"] = "the teacher";
  std::vector<Diagnostic> problems;
  auto parsed = RecipeFolder::get().parse(recipe, &problems);
  EXPECT_TRUE(parsed.ok()) << parsed.status().message();
}

}  // namespace
}  // namespace retort::recipe
