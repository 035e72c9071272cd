#include "retort/exec/artifact_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "exec_test_support.h"
#include "retort/exec/manifest.h"

namespace retort::exec {
namespace {

namespace fs = std::filesystem;
using testing::contains;
using testing::read_text;
using testing::TempDir;
using testing::write_text;

plugin::PortInfo port(const std::string& name, retort_port_kind kind, bool multiple) {
  plugin::PortInfo p;
  p.name = name;
  p.kind = kind;
  p.multiple = multiple;
  return p;
}

TEST(ArtifactStore, FileNamesFollowPortKindAndIndex) {
  EXPECT_EQ(output_file_name(port("model", RETORT_PORT_MODEL, false)), "model.onnx");
  EXPECT_EQ(output_file_name(port("metrics", RETORT_PORT_METRICS, false)), "metrics.json");
  EXPECT_EQ(output_file_name(port("students", RETORT_PORT_MODEL, true), 3), "students.3.onnx");
}

TEST(ArtifactStore, MultiplePortFilesAreOrderedByIndex) {
  TempDir dir;
  for (const char* name :
       {"m.10.onnx", "m.2.onnx", "m.0.onnx", "m.x.onnx", "m.1.json", "mm.1.onnx"}) {
    write_text(dir.path(name), name);
  }
  auto files = port_files(dir.path(), port("m", RETORT_PORT_MODEL, true));
  ASSERT_TRUE(files.ok()) << files.status().message();
  EXPECT_EQ(*files, (std::vector<std::string>{dir.path("m.0.onnx"), dir.path("m.2.onnx"),
                                              dir.path("m.10.onnx")}));

  auto missing = port_files(dir.path(), port("model", RETORT_PORT_MODEL, false));
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(
      contains(missing.status().message(), "output 'model' was not written: no file 'model.onnx'"));
}

// Reports and manifests go through write_file_atomic; its temporary was named after the
// process only, so two threads writing one file shared it and one failed "cannot rename".
TEST(ArtifactStore, WriteFileAtomicFromSeveralThreadsLeavesOneWholeFile) {
  TempDir dir;
  const std::string target = dir.path("report.json");
  constexpr int kThreads = 4, kRounds = 50;
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      const std::string content(static_cast<size_t>(500 * (t + 1)), static_cast<char>('a' + t));
      for (int r = 0; r < kRounds && errors[t].empty(); ++r)
        if (Status s = write_file_atomic(target, content); !s.ok()) errors[t] = s.message();
    });
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[t], "") << "thread " << t;
  const std::string final_text = read_text(target);
  ASSERT_FALSE(final_text.empty());
  const int t = final_text[0] - 'a';
  EXPECT_EQ(final_text, std::string(static_cast<size_t>(500 * (t + 1)), final_text[0]));
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string(), "report.json") << "left behind";
}

TEST(ArtifactStore, CommitReplacesThePreviousFolderWhole) {
  TempDir dir;
  ArtifactStore store(dir.path("out"));
  ASSERT_TRUE(store.prepare().ok());
  fs::create_directories(store.stage_dir("t"));
  write_text(store.stage_dir("t") + "/old-only.json", "{}");

  Expected<std::string> tmp = store.begin("t");
  ASSERT_TRUE(tmp.ok()) << tmp.status().message();
  EXPECT_EQ(*tmp, store.temp_dir("t"));
  EXPECT_TRUE(contains(*tmp, "/.t.tmp-"));
  write_text(*tmp + "/model.onnx", "new");
  ASSERT_TRUE(store.commit("t").ok());
  EXPECT_EQ(read_text(store.stage_dir("t") + "/model.onnx"), "new");
  EXPECT_FALSE(fs::exists(store.stage_dir("t") + "/old-only.json"));
  EXPECT_TRUE(testing::leftovers(dir.path("out")).empty());

  ASSERT_TRUE(store.begin("t").ok());
  store.discard("t");
  EXPECT_FALSE(fs::exists(store.temp_dir("t")));
  EXPECT_EQ(read_text(store.stage_dir("t") + "/model.onnx"), "new");
}

TEST(ArtifactStore, PrepareNamesAFolderItCannotCreate) {
  TempDir dir;
  write_text(dir.path("file"), "x");
  ArtifactStore store(dir.path("file"));
  Status s = store.prepare();
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "cannot create the output folder '" + dir.path("file") + "'"));
}

TEST(ArtifactStore, AtomicWriteLeavesOnlyTheFinalFile) {
  TempDir dir;
  ASSERT_TRUE(write_file_atomic(dir.path("r.json"), "one").ok());
  ASSERT_TRUE(write_file_atomic(dir.path("r.json"), "two").ok());
  EXPECT_EQ(read_text(dir.path("r.json")), "two");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
  Status s = write_file_atomic(dir.path("no/such/dir/r.json"), "x");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "cannot write '" + dir.path("no/such/dir/r.json")));
}

Manifest sample_manifest() {
  Manifest m;
  m.stage_id = "kd";
  m.type = "distill";
  m.plugin_name = "core";
  m.plugin_version = "1.2.0";
  m.params = {{"temperature", 4.0}, {"epochs", 2}};
  m.data = {{"dataset", "fashion-mnist"}};
  m.seed = 18446744073709551615ull;  // the full uint64 range survives JSON
  m.inputs["teacher"] = {{"t.model", "/runs/t/model.onnx", "00000000000000aa"}};
  m.outputs = {{"model.onnx", "00000000000000bb"}};
  m.started = "2024-05-01T12:00:00.000Z";
  m.finished = "2024-05-01T12:00:01.500Z";
  m.seconds = 1.5;
  m.threads = 2;
  m.retort_version = "0.1.0";
  m.retort_commit = "0123456789ab-dirty";
  return m;
}

TEST(Manifest, RoundTripsThroughAFile) {
  TempDir dir;
  const Manifest m = sample_manifest();
  ASSERT_TRUE(write_manifest(m, dir.path("manifest.json")).ok());
  Expected<Manifest> back = read_manifest(dir.path("manifest.json"));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(back->same_key(m));
  EXPECT_EQ(back->seed, m.seed);
  EXPECT_EQ(back->outputs, m.outputs);
  EXPECT_EQ(back->inputs["teacher"][0].path, "/runs/t/model.onnx");
  EXPECT_EQ(back->finished, m.finished);
  EXPECT_EQ(back->threads, 2);
  EXPECT_EQ(back->retort_version, "0.1.0");
  EXPECT_EQ(back->retort_commit, "0123456789ab-dirty");
}

// Manifests written before builds were recorded still read (and stay cache hits).
TEST(Manifest, WithoutTheBuildStillReads) {
  TempDir dir;
  nlohmann::json j = sample_manifest().to_json();
  ASSERT_TRUE(j.contains("retort"));
  j.erase("retort");
  write_text(dir.path("old.json"), j.dump());
  Expected<Manifest> old = read_manifest(dir.path("old.json"));
  ASSERT_TRUE(old.ok()) << old.status().message();
  EXPECT_EQ(old->retort_commit, "");
  EXPECT_TRUE(old->same_key(sample_manifest()));

  j["retort"] = {{"version", "0.1.0"}};  // half a record is an error that names the file
  write_text(dir.path("half.json"), j.dump());
  Expected<Manifest> half = read_manifest(dir.path("half.json"));
  ASSERT_FALSE(half.ok());
  EXPECT_TRUE(contains(half.status().message(), "half.json retort: missing \"commit\""))
      << half.status().message();
}

TEST(Manifest, KeyComparesContentNotPlaces) {
  const Manifest m = sample_manifest();
  Manifest moved = m;
  moved.inputs["teacher"][0] = {"teacher2.model", "/elsewhere/model.onnx", "00000000000000aa"};
  moved.started = "other";
  moved.retort_commit = "fedcba987654";  // another build's result is still a cache hit
  EXPECT_TRUE(m.same_key(moved));

  auto differs = [&](auto edit) {
    Manifest x = m;
    edit(x);
    return !m.same_key(x);
  };
  EXPECT_TRUE(differs([](Manifest& x) { x.params["temperature"] = 2.0; }));
  EXPECT_TRUE(differs([](Manifest& x) { x.data["train_size"] = 10; }));
  EXPECT_TRUE(differs([](Manifest& x) { x.seed = 1; }));
  EXPECT_TRUE(differs([](Manifest& x) { x.plugin_version = "1.3.0"; }));
  EXPECT_TRUE(differs([](Manifest& x) { x.type = "train"; }));
  EXPECT_TRUE(differs([](Manifest& x) { x.inputs["teacher"][0].hash = "00000000000000ab"; }));
  EXPECT_TRUE(differs([](Manifest& x) { x.inputs["teacher"].push_back(x.inputs["teacher"][0]); }));
  EXPECT_TRUE(differs([](Manifest& x) { x.inputs["student"] = {}; }));
}

TEST(Manifest, UnreadableManifestsSayWhy) {
  TempDir dir;
  write_text(dir.path("broken.json"), "{");
  auto broken = read_manifest(dir.path("broken.json"));
  ASSERT_FALSE(broken.ok());
  EXPECT_TRUE(contains(broken.status().message(), "broken.json: not valid JSON"));

  write_text(dir.path("partial.json"), R"({"stage": "a", "type": "make"})");
  auto partial = read_manifest(dir.path("partial.json"));
  ASSERT_FALSE(partial.ok());
  EXPECT_TRUE(contains(partial.status().message(), "partial.json: missing \"plugin\""));
}

// A damaged manifest's numbers went through nlohmann's plain casts: 1e300 as the uint64 seed or
// the int thread count is undefined behaviour (UBSan: float-cast-overflow). Now an error.
TEST(Manifest, NumbersOutOfTheirTypesRangeAreErrors) {
  TempDir dir;
  struct Case {
    const char* key;
    nlohmann::json value;
    const char* found;
  };
  for (const Case& c : {Case{"seed", 1e300, "number 1e+300"}, Case{"seed", -1, "number -1"},
                        Case{"threads", 1e300, "number 1e+300"},
                        Case{"threads", int64_t{1} << 40, "number 1099511627776"},
                        Case{"seed", 2.5, "number 2.5"}}) {
    nlohmann::json j = sample_manifest().to_json();
    j[c.key] = c.value;
    write_text(dir.path("damaged.json"), j.dump());
    Expected<Manifest> m = read_manifest(dir.path("damaged.json"));
    ASSERT_FALSE(m.ok()) << c.key << " = " << c.value.dump();
    EXPECT_TRUE(contains(m.status().message(), std::string("damaged.json: \"") + c.key + "\" is " +
                                                   c.found +
                                                   ", not a whole number in the range of its type"))
        << m.status().message();
  }
  // The whole uint64 range of seeds is still read (sample_manifest's seed is 2^64 - 1).
  write_text(dir.path("fine.json"), sample_manifest().to_json().dump());
  EXPECT_TRUE(read_manifest(dir.path("fine.json")).ok());
}

}  // namespace
}  // namespace retort::exec
