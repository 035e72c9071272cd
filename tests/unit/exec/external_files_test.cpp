// Files a stage writes outside its run folder (an export to a user's path): recorded with
// their hashes in the manifest, and a stage whose file was deleted or changed runs again.
#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>

#include "exec_test_support.h"
#include "retort/exec/content_hash.h"
#include "retort/exec/executor.h"
#include "retort/exec/host.h"
#include "retort/exec/manifest.h"

namespace retort::exec {
namespace {

namespace fs = std::filesystem;
using testing::contains;
using testing::make_recipe;
using testing::read_text;
using testing::run_ok;
using testing::stage;
using testing::stage_log;
using testing::status_of;
using testing::TempDir;

class ExternalFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stage_log().reset();
    clear_cancel();
    fs::create_directories(dir_.path("user"));
  }

  // a (make "A") -> p (publish to user/exported.onnx) -> r (relay of p's copy).
  recipe::Recipe recipe() const {
    return make_recipe({stage("a", "make", {}, {{"value", "A"}}),
                        stage("p", "publish", {{"in", {"a.model"}}}, {{"path", exported()}}),
                        stage("r", "relay", {{"in", {"p.model"}}})});
  }
  std::string exported() const { return dir_.path("user/exported.onnx"); }

  // Runs and returns the log lines the executor sent to the observer.
  RunResult run(std::vector<std::string>* logs = nullptr) {
    RunOptions options;
    std::mutex mutex;
    options.on_log = [&](const std::string& id, const std::string& message) {
      std::lock_guard lock(mutex);
      if (logs != nullptr) logs->push_back(id + ": " + message);
    };
    return run_ok(recipe(), registry_, dir_.path("out"), options);
  }

  plugin::StageRegistry registry_ = testing::test_registry();
  TempDir dir_;
};

TEST_F(ExternalFilesTest, ManifestRecordsThePathAndHash) {
  ASSERT_TRUE(run().ok());
  EXPECT_EQ(read_text(exported()), "A");
  Expected<Manifest> m = read_manifest(dir_.path("out/p/manifest.json"));
  ASSERT_TRUE(m.ok()) << m.status().message();
  const std::string absolute = fs::absolute(exported()).lexically_normal().string();
  EXPECT_EQ(m->external,
            (std::map<std::string, std::string>{{absolute, hash_hex(hash_bytes("A"))}}));
  // Stages that write nothing outside their folder record nothing.
  Expected<Manifest> a = read_manifest(dir_.path("out/a/manifest.json"));
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->external.empty());
  // No temporary file is left next to the user's file.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_.path("user")), fs::directory_iterator()), 1);
}

TEST_F(ExternalFilesTest, DeletedFileIsWrittenAgainAndTheRestStaysCached) {
  ASSERT_TRUE(run().ok());
  const std::string bytes = read_text(exported());

  stage_log().reset();
  RunResult unchanged = run();
  EXPECT_TRUE(stage_log().ran().empty());
  for (const StageOutcome& s : unchanged.stages) EXPECT_EQ(s.status, StageStatus::kCached) << s.id;

  fs::remove(exported());
  stage_log().reset();
  std::vector<std::string> logs;
  RunResult repaired = run(&logs);
  ASSERT_TRUE(repaired.ok());
  EXPECT_EQ(stage_log().ran(), std::vector<std::string>{"p"});
  EXPECT_EQ(status_of(repaired, "a"), StageStatus::kCached);
  EXPECT_EQ(status_of(repaired, "p"), StageStatus::kRan);
  EXPECT_EQ(status_of(repaired, "r"), StageStatus::kCached);  // p's copy holds the same bytes
  ASSERT_TRUE(fs::exists(exported()));
  EXPECT_EQ(read_text(exported()), bytes);
  const std::string absolute = fs::absolute(exported()).lexically_normal().string();
  bool explained = false;
  for (const std::string& line : logs)
    explained |= line == "p: file '" + absolute + "' it wrote is missing: re-running";
  EXPECT_TRUE(explained) << ::testing::PrintToString(logs);

  stage_log().reset();
  RunResult again = run();
  EXPECT_TRUE(stage_log().ran().empty());
  for (const StageOutcome& s : again.stages) EXPECT_EQ(s.status, StageStatus::kCached) << s.id;
}

TEST_F(ExternalFilesTest, ChangedFileIsWrittenAgain) {
  ASSERT_TRUE(run().ok());
  testing::write_text(exported(), "edited by hand");
  stage_log().reset();
  std::vector<std::string> logs;
  RunResult repaired = run(&logs);
  EXPECT_EQ(stage_log().ran(), std::vector<std::string>{"p"});
  EXPECT_EQ(read_text(exported()), "A");
  bool explained = false;
  for (const std::string& line : logs)
    explained |= contains(line, "it wrote is changed: re-running");
  EXPECT_TRUE(explained) << ::testing::PrintToString(logs);
}

TEST_F(ExternalFilesTest, RecordedFileThatWasNotWrittenFailsTheStage) {
  auto broken =
      make_recipe({stage("p", "publish", {}, {{"path", exported()}, {"skip_write", true}})});
  RunResult result = run_ok(broken, registry_, dir_.path("out"));
  ASSERT_EQ(status_of(result, "p"), StageStatus::kFailed);
  const std::string absolute = fs::absolute(exported()).lexically_normal().string();
  EXPECT_TRUE(contains(result.stage("p")->error,
                       "stage 'p' (publish): the stage recorded '" + absolute +
                           "' as a file it wrote, but it cannot be read: cannot open"));
  EXPECT_FALSE(fs::exists(dir_.path("out/p")));  // nothing committed
}

TEST(HostExternalFiles, RecordsAbsolutePathsAndRejectsEmptyOnes) {
  retort_stage_run run;
  const retort_host* host = stage_host();
  EXPECT_NE(host->record_external_file(&run, nullptr), 0);
  EXPECT_NE(host->record_external_file(&run, ""), 0);
  EXPECT_NE(host->record_external_file(nullptr, "/x"), 0);
  EXPECT_EQ(host->record_external_file(&run, "/exports/./a/../model.onnx"), 0);
  EXPECT_EQ(host->record_external_file(&run, "rel/model.onnx"), 0);
  EXPECT_EQ(run.external_files,
            (std::vector<std::string>{"/exports/model.onnx",
                                      (fs::current_path() / "rel/model.onnx").string()}));
}

TEST(ManifestExternalFiles, RoundTripAndOlderManifestsWithoutThem) {
  Manifest m;
  m.stage_id = "export";
  m.type = "export";
  m.external = {{"/home/u/model.onnx", "0123456789abcdef"}};
  Expected<Manifest> back = Manifest::from_json(m.to_json(), "manifest.json");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->external, m.external);
  nlohmann::json old = m.to_json();
  old.erase("external");
  Expected<Manifest> older = Manifest::from_json(old, "manifest.json");
  ASSERT_TRUE(older.ok()) << older.status().message();
  EXPECT_TRUE(older->external.empty());
  // The recorded files are not part of the cache key.
  EXPECT_TRUE(older->same_key(*back));
}

}  // namespace
}  // namespace retort::exec
