// The C++ SDK: stages run through the C boundary with a fake host, from the dlopen'd good
// fixture plugin and from stage classes defined here; failures (Status, exceptions) come back
// as the C error message.
#include "retort/plugin/sdk.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "plugin/fake_host.h"
#include "plugin/temp_dir.h"
#include "retort/arch/build_model.h"
#include "retort/graph/onnx_io.h"
#include "retort/plugin/registry.h"

namespace retort::plugin {
namespace {

using testing::FakeRun;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::TempDir;

struct Outcome {
  int32_t code;
  std::string error;
};

Outcome run_with(retort_stage_run_fn fn, FakeRun& run, size_t error_size = 1024) {
  std::vector<char> error(error_size + 2, 'X');  // a guard byte past the end, then a NUL
  error.back() = '\0';
  int32_t code = fn(&testing::fake_host(), run.handle(), error.data(), error_size);
  EXPECT_EQ(error[error_size], 'X') << "wrote past error_size";
  return {code, code == 0 ? std::string() : std::string(error.data())};
}

const char* kMlp = R"({"arch": "mlp", "hidden": [8]})";

class FixturePluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s =
        registry_.load_file(std::string(RETORT_TEST_PLUGIN_FIXTURES) + "/ok/fixture-good.so");
    ASSERT_TRUE(s.ok()) << s.message();
    run_.output_dir = out_.path().string();
  }
  Outcome run(const std::string& type, size_t error_size = 1024) {
    return run_with(registry_.find(type)->run, run_, error_size);
  }

  StageRegistry registry_;
  TempDir out_;
  FakeRun run_;
};

TEST_F(FixturePluginTest, StageBuildsItsInputFromTheSpecAndWritesMetrics) {
  run_.specs["model"] = {kMlp};
  run_.params = R"({"label": "first"})";
  Outcome o = run("fixture-count");
  ASSERT_EQ(o.code, 0) << o.error;

  auto expected = arch::build_model(nlohmann::json::parse(kMlp), run_.seed);
  ASSERT_TRUE(expected.ok());
  int64_t weights = 0;
  for (const auto& [name, t] : expected->graph.initializers) weights += t.numel();
  std::ifstream in(out_.file("metrics.json"));
  ASSERT_TRUE(in.good());
  nlohmann::json metrics = nlohmann::json::parse(in);
  EXPECT_EQ(metrics["nodes"], expected->graph.nodes.size());
  EXPECT_EQ(metrics["weights"], weights);
  EXPECT_EQ(metrics["seed"], 7);
  EXPECT_EQ(metrics["threads"], 2);
  EXPECT_EQ(metrics["label"], "first");
  for (const auto& e : std::filesystem::directory_iterator(out_.path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos)
        << e.path() << " left behind";
  EXPECT_THAT(run_.logs, ::testing::ElementsAre("counted"));
}

TEST_F(FixturePluginTest, StageReadsAnOnnxInput) {
  auto model = arch::build_model(nlohmann::json::parse(kMlp), 1);
  ASSERT_TRUE(model.ok());
  TempDir in;
  ASSERT_TRUE(save_onnx(*model, in.file("teacher.onnx")).ok());
  run_.paths["model"] = {in.file("teacher.onnx")};
  ASSERT_EQ(run("fixture-count").code, 0);
  std::ifstream metrics(out_.file("metrics.json"));
  EXPECT_EQ(nlohmann::json::parse(metrics)["nodes"], model->graph.nodes.size());
}

TEST_F(FixturePluginTest, ErrorStatusComesBackAsTheMessage) {
  run_.params = R"({"fail_with": "temperature must be positive; set params.temperature > 0"})";
  Outcome o = run("fixture-count");
  EXPECT_EQ(o.code, 1);
  EXPECT_EQ(o.error, "temperature must be positive; set params.temperature > 0");
  EXPECT_FALSE(std::filesystem::exists(out_.file("metrics.json")));
}

TEST_F(FixturePluginTest, UnboundInputIsAnErrorNamingStageAndPort) {
  Outcome o = run("fixture-count");
  EXPECT_EQ(o.code, 1);
  EXPECT_THAT(o.error, StartsWith("input 'model': no model is bound to it"));
}

TEST_F(FixturePluginTest, MissingOnnxInputNamesTheFile) {
  run_.paths["model"] = {"/nonexistent/teacher.onnx"};
  Outcome o = run("fixture-count");
  EXPECT_EQ(o.code, 1);
  EXPECT_THAT(o.error, StartsWith("input 'model': "));
  EXPECT_THAT(o.error, HasSubstr("/nonexistent/teacher.onnx"));
}

TEST_F(FixturePluginTest, ThrownExceptionBecomesAnErrorWithItsText) {
  run_.params = R"({"what": "boom"})";
  Outcome o = run("fixture-throw");
  EXPECT_EQ(o.code, 1);
  EXPECT_EQ(o.error, "unhandled exception: fixture-throw exploded: boom");
}

TEST_F(FixturePluginTest, LongErrorsAreCutToTheBufferWithAnEllipsis) {
  run_.params = R"({"what": "boom"})";
  Outcome o = run("fixture-throw", 16);
  EXPECT_EQ(o.code, 1);
  EXPECT_EQ(o.error, "unhandled ex...");
  Outcome none = run("fixture-throw", 0);  // no room at all: still fails, writes nothing
  EXPECT_EQ(none.code, 1);
}

TEST_F(FixturePluginTest, InvalidParamsFromTheHostAreAnErrorNotACrash) {
  run_.params = "{not json";
  Outcome o = run("fixture-count");
  EXPECT_EQ(o.code, 1);
  EXPECT_EQ(o.error, "unhandled exception: the host passed invalid JSON as params");
}

// Stage classes linked into the test, run through stage_desc's C entry point.
class Roundtrip final : public Stage {
 public:
  Status run(StageContext& ctx) override {
    RETORT_ASSIGN_OR_RETURN(Model model, ctx.load_model("model"));
    RETORT_RETURN_IF_ERROR(ctx.save_model("model", model));
    RETORT_RETURN_IF_ERROR(ctx.save_model("models", model, 2));
    RETORT_ASSIGN_OR_RETURN(nlohmann::json m, ctx.load_metrics("metrics"));
    m["seen"] = ctx.id();
    ctx.progress({{"epoch", 1}, {"loss", 0.5}});
    return ctx.save_metrics("metrics", m);
  }
};

class SaveArray final : public Stage {
 public:
  Status run(StageContext& ctx) override { return ctx.save_metrics("metrics", {1, 2}); }
};

class BadConstructor final : public Stage {
 public:
  BadConstructor() { throw std::runtime_error("no memory for the teacher"); }
  Status run(StageContext&) override { return Status::Ok(); }
};

class ThrowsInt final : public Stage {
 public:
  Status run(StageContext&) override { throw 42; }
};

class SilentFailure final : public Stage {
 public:
  Status run(StageContext&) override { return Status(ErrorCode::kNumerical, ""); }
};

class ReportsCancel final : public Stage {
 public:
  Status run(StageContext& ctx) override {
    if (ctx.cancelled()) return Status(ErrorCode::kCancelled, "stopped at step 0");
    return Status::Ok();
  }
};

template <typename T>
retort_stage_run_fn entry() {
  return stage_desc<T>("t", "s", R"({"type":"object"})", {}, {}).run;
}

TEST(StageContextTest, ModelsAndMetricsRoundTripThroughTheOutputFolder) {
  TempDir in, out;
  auto model = arch::build_model(nlohmann::json::parse(kMlp), 3);
  ASSERT_TRUE(model.ok());
  ASSERT_TRUE(save_onnx(*model, in.file("m.onnx")).ok());
  std::ofstream(in.file("metrics.json")) << R"({"accuracy": 0.75})";
  FakeRun run;
  run.paths["model"] = {in.file("m.onnx")};
  run.paths["metrics"] = {in.file("metrics.json")};
  run.output_dir = out.path().string();

  Outcome o = run_with(entry<Roundtrip>(), run);
  ASSERT_EQ(o.code, 0) << o.error;
  auto back = load_onnx(out.file("model.onnx"));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->graph.nodes.size(), model->graph.nodes.size());
  EXPECT_EQ(back->graph.initializers.size(), model->graph.initializers.size());
  EXPECT_TRUE(std::filesystem::exists(out.file("models.2.onnx")));
  std::ifstream metrics(out.file("metrics.json"));
  nlohmann::json m = nlohmann::json::parse(metrics);
  EXPECT_EQ(m["accuracy"], 0.75);
  EXPECT_EQ(m["seen"], "stage-under-test");
  ASSERT_EQ(run.progress.size(), 1u);
  EXPECT_EQ(run.progress[0]["loss"], 0.5);
}

TEST(StageContextTest, BrokenMetricsInputIsAParseError) {
  TempDir in, out;
  ASSERT_TRUE(
      save_onnx(*arch::build_model(nlohmann::json::parse(kMlp), 3), in.file("m.onnx")).ok());
  std::ofstream(in.file("metrics.json")) << "[1, 2";
  FakeRun run;
  run.paths["model"] = {in.file("m.onnx")};
  run.paths["metrics"] = {in.file("metrics.json")};
  run.output_dir = out.path().string();
  Outcome o = run_with(entry<Roundtrip>(), run);
  EXPECT_EQ(o.error, "input 'metrics': '" + in.file("metrics.json") + "' is not a JSON object");
}

TEST(StageContextTest, MetricsMustBeAnObject) {
  TempDir out;
  FakeRun run;
  run.output_dir = out.path().string();
  Outcome o = run_with(entry<SaveArray>(), run);
  EXPECT_EQ(o.error, "output 'metrics': metrics must be a JSON object");
  EXPECT_TRUE(std::filesystem::is_empty(out.path()));
}

TEST(StageContextTest, ThrowingConstructorIsReportedWithItsText) {
  FakeRun run;
  EXPECT_EQ(run_with(entry<BadConstructor>(), run).error,
            "the stage object could not be constructed: no memory for the teacher");
}

TEST(StageContextTest, NonStandardExceptionIsCaught) {
  FakeRun run;
  Outcome o = run_with(entry<ThrowsInt>(), run);
  EXPECT_EQ(o.code, 1);
  EXPECT_EQ(o.error, "unhandled exception of a type not derived from std::exception");
}

TEST(StageContextTest, FailureWithoutMessageStillSaysSomething) {
  FakeRun run;
  Outcome o = run_with(entry<SilentFailure>(), run);
  EXPECT_EQ(o.code, 1);
  EXPECT_THAT(o.error, StartsWith("the stage failed without a message: "));
}

TEST(StageContextTest, CancellationIsVisibleToTheStage) {
  FakeRun run;
  EXPECT_EQ(run_with(entry<ReportsCancel>(), run).code, 0);
  run.cancelled = true;
  EXPECT_EQ(run_with(entry<ReportsCancel>(), run).error, "stopped at step 0");
}

TEST(StageContextTest, ContextReadsParamsDataAndInputs) {
  FakeRun run;
  run.params = R"({"epochs": 3})";
  run.data = R"({"dataset": "fashion-mnist"})";
  run.paths["teachers"] = {"/a.onnx", "/b.onnx"};
  StageContext ctx(&testing::fake_host(), run.handle());
  EXPECT_EQ(ctx.params()["epochs"], 3);
  EXPECT_EQ(ctx.data()["dataset"], "fashion-mnist");
  EXPECT_EQ(ctx.input_count("teachers"), 2u);
  EXPECT_EQ(ctx.input_count("student"), 0u);
  EXPECT_EQ(ctx.input_path("teachers", 1), "/b.onnx");
  EXPECT_EQ(ctx.input_path("teachers", 2), "");
  auto second = ctx.load_model("teachers", 1);
  EXPECT_THAT(second.status().message(), StartsWith("input 'teachers' [1]: "));
}

TEST(StageContextTest, RecordExternalFileGoesThroughTheHost) {
  FakeRun run;
  StageContext ctx(&testing::fake_host(), run.handle());
  EXPECT_TRUE(ctx.record_external_file("/exports/model.onnx").ok());
  EXPECT_EQ(run.external_files, std::vector<std::string>{"/exports/model.onnx"});
  Status empty = ctx.record_external_file("");
  EXPECT_EQ(empty.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(empty.message(), "record_external_file: the path is empty");
  EXPECT_EQ(run.external_files.size(), 1u);
}

TEST(StageContextTest, ShortHostTableIsRejected) {
  retort_host old = testing::fake_host();
  old.struct_size = 8;
  FakeRun run;
  char error[256];
  int32_t code = entry<SilentFailure>()(&old, run.handle(), error, sizeof(error));
  EXPECT_EQ(code, 1);
  EXPECT_THAT(std::string(error), HasSubstr("the host's service table is 8 bytes"));
}

}  // namespace
}  // namespace retort::plugin
