// The plugin loader: fixture plugins built as MODULEs (tests/plugins), one per way loading
// fails, each error message checked; and descriptors registered in-process for the checks that
// need no file.
#include "retort/plugin/registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "plugin/temp_dir.h"
#include "retort/plugin/sdk.h"

namespace retort::plugin {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string fixture(const std::string& subdir, const std::string& name) {
  return std::string(RETORT_TEST_PLUGIN_FIXTURES) + "/" + subdir + "/fixture-" + name + ".so";
}

TEST(StageRegistryTest, GoodPluginListsItsTypesWithPortsAndSchema) {
  StageRegistry registry;
  const std::string path = fixture("ok", "good");
  ASSERT_TRUE(registry.load_file(path).ok());
  EXPECT_THAT(registry.type_names(), ElementsAre("fixture-count", "fixture-throw"));

  const StageType* count = registry.find("fixture-count");
  ASSERT_NE(count, nullptr);
  EXPECT_EQ(count->summary, "counts nodes and weights");
  EXPECT_EQ(count->plugin_name, "fixture_good");
  EXPECT_EQ(count->plugin_version, "1.2.3");
  EXPECT_EQ(count->origin, path);
  EXPECT_FALSE(count->compute_heavy);
  ASSERT_EQ(count->inputs.size(), 1u);
  EXPECT_EQ(count->inputs[0].name, "model");
  EXPECT_EQ(count->inputs[0].kind, RETORT_PORT_MODEL);
  EXPECT_FALSE(count->inputs[0].multiple);
  EXPECT_EQ(count->inputs[0].summary, "the model to count");
  ASSERT_EQ(count->outputs.size(), 1u);
  EXPECT_STREQ(port_kind_name(count->outputs[0].kind), "metrics");
  EXPECT_EQ(count->input("model"), &count->inputs[0]);
  EXPECT_EQ(count->output("metrics"), &count->outputs[0]);
  EXPECT_EQ(count->input("metrics"), nullptr);
  EXPECT_EQ(count->params_schema["properties"]["fail_with"]["type"], "string");
  EXPECT_EQ(count->params_schema["additionalProperties"], false);

  const StageType* thrower = registry.find("fixture-throw");
  ASSERT_NE(thrower, nullptr);
  EXPECT_TRUE(thrower->compute_heavy);
  ASSERT_EQ(thrower->inputs.size(), 1u);
  EXPECT_TRUE(thrower->inputs[0].multiple);
  EXPECT_TRUE(thrower->inputs[0].optional);
  EXPECT_TRUE(thrower->outputs.empty());
  EXPECT_EQ(registry.find("fixture-missing"), nullptr);
}

TEST(StageRegistryTest, LoadingTheSameFileTwiceIsHarmless) {
  StageRegistry registry;
  ASSERT_TRUE(registry.load_file(fixture("ok", "good")).ok());
  Status again = registry.load_file(fixture("ok", "good"));
  EXPECT_TRUE(again.ok()) << again.message();
  EXPECT_EQ(registry.all().size(), 2u);
}

TEST(StageRegistryTest, MissingFileCannotBeOpened) {
  StageRegistry registry;
  const std::string path = std::string(RETORT_TEST_PLUGIN_FIXTURES) + "/ok/absent.so";
  Status s = registry.load_file(path);
  EXPECT_EQ(s.code(), ErrorCode::kNotFound);
  EXPECT_THAT(s.message(), StartsWith("cannot open plugin '" + path + "': "));
  EXPECT_THAT(s.message(), HasSubstr("No such file"));
}

TEST(StageRegistryTest, FileThatIsNotASharedLibraryCannotBeOpened) {
  testing::TempDir dir;
  const std::string path = dir.file("notes.so");
  std::ofstream(path) << "not an ELF file\n";
  StageRegistry registry;
  Status s = registry.load_file(path);
  EXPECT_EQ(s.code(), ErrorCode::kIo);
  EXPECT_THAT(s.message(), StartsWith("cannot open plugin '" + path + "': "));
  EXPECT_THAT(s.message(), HasSubstr("notes.so"));  // dlerror's own text names the file too
}

TEST(StageRegistryTest, NoEntrySymbol) {
  StageRegistry registry;
  const std::string path = fixture("bad", "no-entry");
  Status s = registry.load_file(path);
  EXPECT_EQ(s.code(), ErrorCode::kNotFound);
  EXPECT_THAT(s.message(), StartsWith("no entry symbol 'retort_plugin_entry' in '" + path + "'"));
  EXPECT_TRUE(registry.all().empty());
}

TEST(StageRegistryTest, WrongAbiVersionNamesBothVersions) {
  StageRegistry registry;
  const std::string path = fixture("bad", "wrong-abi");
  Status s = registry.load_file(path);
  EXPECT_EQ(s.code(), ErrorCode::kUnsupported);
  EXPECT_EQ(s.message(), "plugin 'fixture-wrong-abi' (" + path +
                             ") was built for plugin ABI version 999, this retort expects " +
                             std::to_string(RETORT_PLUGIN_ABI_VERSION) +
                             "; "
                             "rebuild it against this retort");
  EXPECT_TRUE(registry.all().empty());
}

TEST(StageRegistryTest, FingerprintMismatchNamesBothBuilds) {
  StageRegistry registry;
  const std::string path = fixture("bad", "fingerprint");
  Status s = registry.load_file(path);
  EXPECT_EQ(s.code(), ErrorCode::kUnsupported);
  EXPECT_THAT(s.message(),
              StartsWith("plugin 'fixture-fingerprint' (" + path +
                         "): fingerprint mismatch: plugin built by retort-0.0.1/gcc-4/abi-1, "
                         "host is " RETORT_BUILD_FINGERPRINT));
  EXPECT_EQ(registry.find("fixture-stale"), nullptr);
}

TEST(StageRegistryTest, DuplicateTypeNamesBothPluginsAndFiles) {
  StageRegistry registry;
  const std::string good = fixture("ok", "good");
  const std::string dup = fixture("dup", "duplicate");
  ASSERT_TRUE(registry.load_file(good).ok());
  Status s = registry.load_file(dup);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(s.message(), StartsWith("duplicate stage type 'fixture-count': plugin "
                                      "'fixture_duplicate' (" +
                                      dup + ") provides it, but plugin 'fixture_good' (" + good +
                                      ") already does"));
  EXPECT_EQ(registry.find("fixture-count")->plugin_name, "fixture_good");
}

TEST(StageRegistryTest, InvalidSchemaNamesTypePluginAndPlaceAndRegistersNothing) {
  StageRegistry registry;
  const std::string path = fixture("bad", "bad-schema");
  Status s = registry.load_file(path);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(s.message(), StartsWith("invalid schema for stage type 'fixture-bad' in plugin "
                                      "'fixture_bad_schema' (" +
                                      path + "): /properties/rate/type: unknown type \"float\""));
  // The plugin's valid first type is not registered either.
  EXPECT_EQ(registry.find("fixture-fine"), nullptr);
}

TEST(StageRegistryTest, LoadDirLoadsEverySharedLibrary) {
  StageRegistry registry;
  Status s = registry.load_dir(std::string(RETORT_TEST_PLUGIN_FIXTURES) + "/ok");
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_THAT(registry.type_names(),
              ElementsAre("fixture-count", "fixture-extra", "fixture-throw"));
  EXPECT_EQ(registry.find("fixture-extra")->plugin_name, "fixture_extra");
}

TEST(StageRegistryTest, LoadDirIgnoresOtherFiles) {
  testing::TempDir dir;
  std::filesystem::copy_file(fixture("ok", "extra"), dir.file("copy.so"));
  std::ofstream(dir.file("README.txt")) << "not a plugin\n";
  std::filesystem::create_directory(dir.file("sub.so"));
  StageRegistry registry;
  Status s = registry.load_dir(dir.path().string());
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_THAT(registry.type_names(), ElementsAre("fixture-extra"));
  EXPECT_EQ(registry.find("fixture-extra")->origin, dir.file("copy.so"));
}

TEST(StageRegistryTest, LoadDirReportsEveryFailingFileOnItsOwnLine) {
  StageRegistry registry;
  Status s = registry.load_dir(std::string(RETORT_TEST_PLUGIN_FIXTURES) + "/bad");
  ASSERT_FALSE(s.ok());
  std::vector<std::string> lines;
  std::istringstream in(s.message());
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 4u) << s.message();
  // Sorted by file name: bad-schema, fingerprint, no-entry, wrong-abi.
  EXPECT_THAT(lines[0], StartsWith("invalid schema for stage type 'fixture-bad'"));
  EXPECT_THAT(lines[1], HasSubstr("fingerprint mismatch"));
  EXPECT_THAT(lines[2], StartsWith("no entry symbol"));
  EXPECT_THAT(lines[3], HasSubstr("ABI version 999"));
  EXPECT_TRUE(registry.all().empty());
}

TEST(StageRegistryTest, LoadDirOfMissingFolderFails) {
  StageRegistry registry;
  Status s = registry.load_dir("/nonexistent/retort/plugins");
  EXPECT_EQ(s.code(), ErrorCode::kNotFound);
  EXPECT_EQ(s.message(), "plugin folder '/nonexistent/retort/plugins' does not exist");
  Status file = registry.load_dir(fixture("ok", "good"));
  EXPECT_THAT(file.message(), HasSubstr("is not a folder"));
}

TEST(StageRegistryTest, DefaultPluginDirIsTheBuildTreesPluginFolder) {
  EXPECT_EQ(std::filesystem::path(default_plugin_dir()),
            std::filesystem::canonical(RETORT_TEST_BUILTIN_PLUGIN_DIR));
}

// Descriptors registered in-process: every check that does not need a file of its own.
int32_t noop_run(const retort_host*, retort_stage_run*, char*, size_t) {
  return 0;
}

class DescriptorTest : public ::testing::Test {
 protected:
  DescriptorTest() {
    ports_[0] = {"model", RETORT_PORT_MODEL, 0, 0, "in"};
    ports_[1] = {"metrics", RETORT_PORT_METRICS, 0, 0, "out"};
    stage_ = {"t",      "summary", R"({"type":"object"})", &ports_[0], 1, &ports_[1], 1, 1,
              noop_run, nullptr};
    info_ = {RETORT_PLUGIN_ABI_VERSION,
             sizeof(retort_plugin_info),
             "p",
             "1",
             RETORT_BUILD_FINGERPRINT,
             &stage_,
             1};
  }
  Status add() { return registry_.add(&info_, "built-in"); }

  retort_port_desc ports_[2];
  retort_stage_desc stage_;
  retort_plugin_info info_;
  StageRegistry registry_;
};

TEST_F(DescriptorTest, ValidDescriptorRegisters) {
  ASSERT_TRUE(add().ok());
  EXPECT_EQ(registry_.find("t")->origin, "built-in");
}

TEST_F(DescriptorTest, NullDescriptor) {
  Status s = registry_.add(nullptr, "/x/libnull.so");
  EXPECT_THAT(s.message(), HasSubstr("plugin 'libnull.so' (/x/libnull.so) returned no descriptor"));
}

TEST_F(DescriptorTest, StructSizeMismatch) {
  info_.struct_size = sizeof(retort_plugin_info) - 8;
  EXPECT_THAT(add().message(), StartsWith("plugin 'p' (built-in) has a descriptor of " +
                                          std::to_string(sizeof(retort_plugin_info) - 8) +
                                          " bytes, this retort expects " +
                                          std::to_string(sizeof(retort_plugin_info))));
}

TEST_F(DescriptorTest, AbiMismatchWithUnreadableNameUsesTheFileName) {
  info_.abi_version = 0;
  info_.struct_size = 4;
  Status s = registry_.add(&info_, "/opt/plugins/old.so");
  EXPECT_THAT(s.message(),
              StartsWith("plugin 'old.so' (/opt/plugins/old.so) was built for plugin ABI version "
                         "0, this retort expects " +
                         std::to_string(RETORT_PLUGIN_ABI_VERSION)));
}

TEST_F(DescriptorTest, MissingNameFingerprintOrStages) {
  info_.name = "";
  EXPECT_THAT(add().message(), HasSubstr("has no name"));
  info_.name = "p";
  info_.fingerprint = nullptr;
  EXPECT_THAT(add().message(), HasSubstr("has no build fingerprint"));
  info_.fingerprint = RETORT_BUILD_FINGERPRINT;
  info_.num_stages = 0;
  EXPECT_THAT(add().message(), HasSubstr("provides no stage types"));
  EXPECT_TRUE(registry_.all().empty());
}

TEST_F(DescriptorTest, BadTypeNames) {
  stage_.type = "";
  EXPECT_THAT(add().message(), HasSubstr("stage type 0 has an invalid name ''"));
  stage_.type = "has space";
  EXPECT_THAT(add().message(), HasSubstr("invalid name 'has space'"));
}

TEST_F(DescriptorTest, SameTypeTwiceInOnePlugin) {
  retort_stage_desc two[] = {stage_, stage_};
  info_.stages = two;
  info_.num_stages = 2;
  EXPECT_EQ(add().message(), "plugin 'p' (built-in) declares stage type 't' twice");
}

TEST_F(DescriptorTest, NoRunFunction) {
  stage_.run = nullptr;
  EXPECT_EQ(add().message(), "stage type 't' in plugin 'p' (built-in) has no run function");
}

TEST_F(DescriptorTest, SchemaNullNotJsonOrNotAnObjectSchema) {
  stage_.params_schema = nullptr;
  EXPECT_THAT(
      add().message(),
      StartsWith("invalid schema for stage type 't' in plugin 'p' (built-in): params_schema "
                 "is NULL"));
  stage_.params_schema = R"({"type": "object",)";
  EXPECT_EQ(add().message(),
            "invalid schema for stage type 't' in plugin 'p' (built-in): params_schema is not "
            "valid JSON");
  stage_.params_schema = R"({"type": "array"})";
  EXPECT_THAT(add().message(),
              StartsWith("invalid schema for stage type 't' in plugin 'p' (built-in): /type: the "
                         "params schema must be {\"type\": \"object\", ...}"));
}

TEST_F(DescriptorTest, BadPorts) {
  ports_[0].name = "teacher.model";
  EXPECT_THAT(add().message(),
              HasSubstr("stage type 't' in plugin 'p' (built-in): input port 0 has an invalid "
                        "name 'teacher.model'"));
  ports_[0].name = "model";
  ports_[1].kind = static_cast<retort_port_kind>(7);
  EXPECT_THAT(add().message(), HasSubstr("output port 'metrics' has unknown kind 7"));
  ports_[1].kind = RETORT_PORT_METRICS;
  stage_.inputs = nullptr;
  EXPECT_THAT(add().message(), HasSubstr("declares 1 input ports but their table is NULL"));
  retort_port_desc same[] = {ports_[0], ports_[0]};
  stage_.inputs = same;
  stage_.num_inputs = 2;
  EXPECT_THAT(add().message(), HasSubstr("input port 'model' is declared twice"));
  EXPECT_TRUE(registry_.all().empty());
}

TEST(FingerprintTest, NamesRetortVersionCompilerAndAbi) {
  EXPECT_THAT(RETORT_BUILD_FINGERPRINT,
              ::testing::MatchesRegex("retort-" RETORT_VERSION "/(gcc|clang)-[0-9]+/abi-3"));
}

TEST(PortKindTest, Names) {
  EXPECT_STREQ(port_kind_name(RETORT_PORT_MODEL), "model");
  EXPECT_STREQ(port_kind_name(RETORT_PORT_METRICS), "metrics");
  EXPECT_STREQ(port_kind_name(static_cast<retort_port_kind>(0)), "unknown");
}

}  // namespace
}  // namespace retort::plugin
