#include "retort/graph/onnx_io.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "graph/onnx_wire.h"
#include "retort/engine/plan.h"

namespace retort {
namespace {

namespace fs = std::filesystem;
using namespace testing::onnx_wire;  // NOLINT(google-build-using-namespace)

engine::PlanOptions batch_of(int64_t batch) {
  engine::PlanOptions options;
  options.batch = batch;
  return options;
}

const std::string kTorchDir = std::string(RETORT_TEST_DATA_DIR) + "/torch";

class OnnxIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("retort_onnx_io_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write(const std::string& name, const std::string& bytes) const {
    std::ofstream(path(name), std::ios::binary) << bytes;
  }
  // Files a save left behind besides its target: temporaries ("<name>.tmp-<pid>-<n>").
  std::vector<std::string> temporaries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_))
      if (e.path().filename().string().find(".tmp") != std::string::npos)
        names.push_back(e.path().filename().string());
    return names;
  }
  fs::path dir_;
};

void expect_same_tensor(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.dtype(), b.dtype()) << what;
  ASSERT_EQ(a.shape(), b.shape()) << what;
  EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0) << what;
}

void expect_same_attribute(const Attribute& a, const Attribute& b, const std::string& what) {
  ASSERT_EQ(a.kind, b.kind) << what;
  switch (a.kind) {
    case Attribute::Kind::kInt:
      EXPECT_EQ(a.i, b.i) << what;
      break;
    case Attribute::Kind::kFloat:
      EXPECT_EQ(a.f, b.f) << what;
      break;
    case Attribute::Kind::kString:
      EXPECT_EQ(a.s, b.s) << what;
      break;
    case Attribute::Kind::kInts:
      EXPECT_EQ(a.ints, b.ints) << what;
      break;
    case Attribute::Kind::kFloats:
      EXPECT_EQ(a.floats, b.floats) << what;
      break;
    case Attribute::Kind::kStrings:
      EXPECT_EQ(a.strings, b.strings) << what;
      break;
    case Attribute::Kind::kTensor:
      expect_same_tensor(a.t, b.t, what);
      break;
  }
}

void expect_same_model(const Model& a, const Model& b) {
  EXPECT_EQ(a.opset, b.opset);
  EXPECT_EQ(a.ir_version, b.ir_version);
  EXPECT_EQ(a.producer_name, b.producer_name);
  EXPECT_EQ(a.producer_version, b.producer_version);
  EXPECT_EQ(a.metadata, b.metadata);
  EXPECT_EQ(a.graph.inputs, b.graph.inputs);
  EXPECT_EQ(a.graph.outputs, b.graph.outputs);
  EXPECT_EQ(a.graph.value_infos, b.graph.value_infos);
  ASSERT_EQ(a.graph.nodes.size(), b.graph.nodes.size());
  for (size_t i = 0; i < a.graph.nodes.size(); ++i) {
    const Node& x = a.graph.nodes[i];
    const Node& y = b.graph.nodes[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.op_type, y.op_type);
    EXPECT_EQ(x.domain, y.domain);
    EXPECT_EQ(x.inputs, y.inputs);
    EXPECT_EQ(x.outputs, y.outputs);
    ASSERT_EQ(x.attributes.size(), y.attributes.size()) << x.describe();
    for (const auto& [key, attr] : x.attributes) {
      ASSERT_TRUE(y.has_attr(key)) << x.describe() << " lost attribute " << key;
      expect_same_attribute(attr, y.attributes.at(key), x.describe() + " attribute " + key);
    }
  }
  ASSERT_EQ(a.graph.initializers.size(), b.graph.initializers.size());
  for (const auto& [name, t] : a.graph.initializers) {
    ASSERT_TRUE(b.graph.is_initializer(name)) << name;
    expect_same_tensor(t, b.graph.initializers.at(name), "initializer " + name);
  }
}

// A model with every attribute kind and every initializer dtype. The custom-domain node keeps
// the integer initializers alive (nothing in the default domain would read them all).
Model hand_built_model() {
  Model m;
  m.producer_name = "retort-test";
  m.producer_version = "9.9";
  m.metadata = {{"classes", "shirt,shoe,bag"}, {"input", "raw pixels in [0,1], NCHW"}};
  Graph& g = m.graph;
  g.name = "hand";
  const Dim batch = Dim::symbolic("batch");
  g.inputs = {ValueInfo{"x", DType::kFloat32, {batch, Dim::fixed(4)}}};
  g.outputs = {ValueInfo{"y", DType::kFloat32, {batch, Dim::fixed(3)}},
               ValueInfo{"z", DType::kFloat32, {batch, Dim{}}}};  // unnamed unknown dim
  g.value_infos = {ValueInfo{"h", DType::kFloat32, {batch, Dim::fixed(3)}}};
  g.initializers["W"] = Tensor::from_vector<float>(
      {3, 4}, {0.5f, -1.25f, 3.0f, 1e-7f, -0.0f, 2.5f, 7.0f, -8.0f, 0.1f, 0.2f, 0.3f, 0.4f});
  g.initializers["B"] = Tensor::from_vector<float>({3}, {1.0f, -2.0f, 0.25f});
  g.initializers["i64"] = Tensor::from_vector<int64_t>({2}, {-3, int64_t{1} << 40});
  g.initializers["i32"] = Tensor::from_vector<int32_t>({2, 1}, {-7, 8});
  g.initializers["i8"] = Tensor::from_vector<int8_t>({2}, {-128, 127});
  g.initializers["u8"] = Tensor::from_vector<uint8_t>({3}, {0, 255, 9});
  g.initializers["mask"] = Tensor::from_vector<bool>({2}, {true, false});
  g.initializers["scalar"] = Tensor::scalar(4.5f);

  Node gemm{"gemm", "Gemm", "", {"x", "W", "B"}, {"h"}, {}};
  gemm.attributes["transB"] = Attribute::of_int(1);
  gemm.attributes["alpha"] = Attribute::of_float(0.5f);
  Node relu{"relu", "Relu", "", {"h"}, {"y"}, {}};
  Node custom{"custom",      "AllKinds",
              "test.retort", {"x", "i64", "i32", "i8", "u8", "mask", "", "scalar"},
              {"z"},         {}};
  Attribute strings;
  strings.kind = Attribute::Kind::kStrings;
  strings.strings = {"a", "", "long string with spaces"};
  custom.attributes = {{"i", Attribute::of_int(-42)},
                       {"f", Attribute::of_float(3.25f)},
                       {"s", Attribute::of_string("hello")},
                       {"ints", Attribute::of_ints({1, -2, 3})},
                       {"floats", Attribute::of_floats({0.5f, -1.5f})},
                       {"strings", strings},
                       {"t", Attribute::of_tensor(Tensor::from_vector<int64_t>({2}, {5, 6}))}};
  g.nodes = {gemm, relu, custom};
  return m;
}

TEST_F(OnnxIoTest, HandBuiltModelRoundTripsThroughAFile) {
  const Model model = hand_built_model();
  ASSERT_TRUE(save_onnx(model, path("hand.onnx")).ok());
  EXPECT_TRUE(temporaries().empty()) << temporaries().front();
  auto loaded = load_onnx(path("hand.onnx"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  expect_same_model(model, *loaded);
  EXPECT_EQ(loaded->graph.name, "hand");
  EXPECT_EQ(loaded->graph.inputs[0].dims[0].param, "batch");
  EXPECT_FALSE(loaded->graph.outputs[1].dims[1].is_fixed());
  EXPECT_TRUE(loaded->graph.outputs[1].dims[1].param.empty());
}

TEST_F(OnnxIoTest, SerializeAndParseAgreeWithSaveAndLoad) {
  auto bytes = serialize_onnx(hand_built_model());
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  auto parsed = parse_onnx(*bytes, "memory");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  expect_same_model(hand_built_model(), *parsed);
}

TEST_F(OnnxIoTest, TorchExportRoundTrips) {
  for (const char* name : {"mlp_dynamic.onnx", "cnn_dynamic.onnx", "cnn_static.onnx"}) {
    SCOPED_TRACE(name);
    auto original = load_onnx(kTorchDir + "/" + name);
    ASSERT_TRUE(original.ok()) << original.status().message();
    EXPECT_EQ(original->producer_name, "pytorch");
    ASSERT_TRUE(save_onnx(*original, path(name)).ok());
    auto reloaded = load_onnx(path(name));
    ASSERT_TRUE(reloaded.ok()) << reloaded.status().message();
    expect_same_model(*original, *reloaded);
  }
}

TEST_F(OnnxIoTest, ReloadedModelComputesTheSameOutputs) {
  auto original = load_onnx(kTorchDir + "/cnn_dynamic.onnx");
  ASSERT_TRUE(original.ok()) << original.status().message();
  ASSERT_TRUE(save_onnx(*original, path("cnn.onnx")).ok());
  auto reloaded = load_onnx(path("cnn.onnx"));
  ASSERT_TRUE(reloaded.ok()) << reloaded.status().message();
  auto input = load_tensor_pb(kTorchDir + "/input_0.pb");
  ASSERT_TRUE(input.ok()) << input.status().message();

  std::vector<std::vector<float>> outputs;
  for (Model* model : {&*original, &*reloaded}) {
    auto plan = engine::Plan::compile(*model, batch_of(3));
    ASSERT_TRUE(plan.ok()) << plan.status().message();
    engine::View in = (*plan)->input(0);
    ASSERT_EQ(in.numel(), input->numel());
    std::copy(input->span<float>().begin(), input->span<float>().end(), in.data);
    (*plan)->forward(false);
    auto out = (*plan)->output(0).span();
    outputs.emplace_back(out.begin(), out.end());
  }
  EXPECT_EQ(outputs[0], outputs[1]);
}

TEST_F(OnnxIoTest, CorruptFileIsReportedWithItsName) {
  write("garbage.onnx", std::string("this is not an onnx model\xff\xff\x01", 28));
  auto model = load_onnx(path("garbage.onnx"));
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), ErrorCode::kParse);
  EXPECT_NE(model.status().message().find(path("garbage.onnx")), std::string::npos)
      << model.status().message();
  EXPECT_NE(model.status().message().find("not a valid ONNX model"), std::string::npos)
      << model.status().message();
}

TEST_F(OnnxIoTest, TruncatedFileIsCorrupt) {
  auto bytes = serialize_onnx(hand_built_model());
  ASSERT_TRUE(bytes.ok());
  write("truncated.onnx", bytes->substr(0, bytes->size() / 2));
  auto model = load_onnx(path("truncated.onnx"));
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("truncated.onnx"), std::string::npos);
  EXPECT_NE(model.status().message().find("not a valid ONNX model"), std::string::npos)
      << model.status().message();
}

TEST_F(OnnxIoTest, MissingFileIsReportedWithItsName) {
  auto model = load_onnx(path("nowhere.onnx"));
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(model.status().message().find(path("nowhere.onnx")), std::string::npos)
      << model.status().message();
  auto tensor = load_tensor_pb(path("nowhere.pb"));
  ASSERT_FALSE(tensor.ok());
  EXPECT_NE(tensor.status().message().find(path("nowhere.pb")), std::string::npos);
}

TEST_F(OnnxIoTest, ModelWithoutGraphIsRejected) {
  Proto opset;
  opset.bytes(1, "").varint(2, 13);
  Proto model;
  model.varint(1, 8).message(8, opset);
  write("nograph.onnx", model.str());
  auto loaded = load_onnx(path("nograph.onnx"));
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("nograph.onnx"), std::string::npos);
  EXPECT_NE(loaded.status().message().find("no graph"), std::string::npos)
      << loaded.status().message();
  // An empty file parses as an empty protobuf: it must not pass for a model either.
  write("empty.onnx", "");
  EXPECT_FALSE(load_onnx(path("empty.onnx")).ok());
}

TEST_F(OnnxIoTest, UnsupportedInitializerTypeNamesTheInitializer) {
  Proto half;
  half.varint(kDims, 2)
      .varint(kDataType, kFloat16)
      .bytes(kName, "half_weights")
      .bytes(kRawData, std::string(4, '\0'));
  Proto graph;
  graph.bytes(2, "g").message(5, half);
  Proto opset;
  opset.bytes(1, "").varint(2, 13);
  Proto model;
  model.varint(1, 8).message(8, opset).message(7, graph);
  write("half.onnx", model.str());
  auto loaded = load_onnx(path("half.onnx"));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), ErrorCode::kUnsupported);
  const std::string& msg = loaded.status().message();
  EXPECT_NE(msg.find("half.onnx"), std::string::npos) << msg;
  EXPECT_NE(msg.find("half_weights"), std::string::npos) << msg;
  EXPECT_NE(msg.find("FLOAT16"), std::string::npos) << msg;
}

TEST_F(OnnxIoTest, OldOpsetIsRejectedClearly) {
  Model model = hand_built_model();
  model.graph.nodes.pop_back();  // the custom node
  model.graph.outputs.pop_back();
  model.opset = 11;
  ASSERT_TRUE(save_onnx(model, path("old.onnx")).ok());
  auto loaded = load_onnx(path("old.onnx"));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), ErrorCode::kUnsupported);
  const std::string& msg = loaded.status().message();
  EXPECT_NE(msg.find("old.onnx"), std::string::npos) << msg;
  EXPECT_NE(msg.find("opset 11"), std::string::npos) << msg;
  EXPECT_NE(msg.find("13"), std::string::npos) << msg;

  // Gemm and Relu did change between opset 11 and 13: even the upgrade option refuses.
  auto upgraded = load_onnx(path("old.onnx"), {.upgrade_unchanged_opset = true});
  ASSERT_FALSE(upgraded.ok());
  EXPECT_NE(upgraded.status().message().find("(Gemm)"), std::string::npos)
      << upgraded.status().message();
}

TEST_F(OnnxIoTest, OldOpsetWithUnchangedOpsCanBeUpgradedOnRequest) {
  Model model;
  model.opset = 11;
  model.graph.inputs = {ValueInfo{
      "x", DType::kFloat32, {Dim::fixed(1), Dim::fixed(1), Dim::fixed(4), Dim::fixed(4)}}};
  model.graph.outputs = {ValueInfo{
      "y", DType::kFloat32, {Dim::fixed(1), Dim::fixed(1), Dim::fixed(3), Dim::fixed(3)}}};
  Node pool{"pool", "AveragePool", "", {"x"}, {"y"}, {}};
  pool.attributes["kernel_shape"] = Attribute::of_ints({2, 2});
  model.graph.nodes = {pool};
  ASSERT_TRUE(save_onnx(model, path("pool11.onnx")).ok());
  EXPECT_FALSE(load_onnx(path("pool11.onnx")).ok());
  auto loaded = load_onnx(path("pool11.onnx"), {.upgrade_unchanged_opset = true});
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->opset, 13);
}

TEST_F(OnnxIoTest, CheckerRejectionFailsTheSaveAndLeavesNoFile) {
  Model unknown_op = hand_built_model();
  unknown_op.graph.nodes[1].op_type = "NoSuchOp";
  Status s = save_onnx(unknown_op, path("bad.onnx"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("checker"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("NoSuchOp"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("bad.onnx"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(path("bad.onnx")));
  EXPECT_TRUE(temporaries().empty()) << temporaries().front();

  Model dangling = hand_built_model();
  dangling.graph.nodes[1].inputs[0] = "ghost";
  s = save_onnx(dangling, path("dangling.onnx"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("ghost"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(path("dangling.onnx")));
  EXPECT_TRUE(temporaries().empty()) << temporaries().front();
}

TEST_F(OnnxIoTest, SaveReplacesAnExistingFileAndFailsOnAMissingFolder) {
  write("model.onnx", "old contents");
  ASSERT_TRUE(save_onnx(hand_built_model(), path("model.onnx")).ok());
  EXPECT_TRUE(load_onnx(path("model.onnx")).ok());
  EXPECT_TRUE(temporaries().empty()) << temporaries().front();

  Status s = save_onnx(hand_built_model(), path("no/such/folder/model.onnx"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::kIo);
  EXPECT_NE(s.message().find("no/such/folder"), std::string::npos) << s.message();
}

// Two runs exporting to one path used to share the temporary "<path>.tmp": one writer's rename
// took the other's file away and the other failed with "cannot rename".
TEST_F(OnnxIoTest, ConcurrentSavesToOnePathAllSucceedAndLeaveOneCompleteModel) {
  constexpr int kWriters = 4, kRounds = 25;
  std::vector<Model> models;
  std::vector<std::string> bytes;
  for (int w = 0; w < kWriters; ++w) {
    Model m = hand_built_model();
    m.metadata["writer"] = std::to_string(w);
    // Sizes differ too, so a file cut short or mixed from two writers cannot pass for one.
    m.graph.initializers["pad"] = Tensor(DType::kFloat32, {int64_t{1000} * (w + 1)});
    auto serialized = serialize_onnx(m);
    ASSERT_TRUE(serialized.ok()) << serialized.status().message();
    bytes.push_back(*serialized);
    models.push_back(std::move(m));
  }
  const std::string target = path("shared.onnx");
  std::vector<std::string> errors(kWriters);
  std::vector<std::thread> threads;
  threads.reserve(kWriters);
  for (int w = 0; w < kWriters; ++w)
    threads.emplace_back([&, w] {
      for (int r = 0; r < kRounds && errors[w].empty(); ++r)
        if (Status s = save_onnx(models[w], target); !s.ok()) errors[w] = s.message();
    });
  for (std::thread& t : threads) t.join();
  for (int w = 0; w < kWriters; ++w) EXPECT_EQ(errors[w], "") << "writer " << w;

  auto loaded = load_onnx(target);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  ASSERT_TRUE(loaded->metadata.count("writer"));
  const int w = std::stoi(loaded->metadata.at("writer"));
  ASSERT_TRUE(w >= 0 && w < kWriters);
  std::ifstream in(target, std::ios::binary);
  const std::string on_disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(on_disk, bytes[w]) << "the file is not writer " << w << "'s complete model";
  EXPECT_TRUE(temporaries().empty()) << temporaries().front();
}

TEST_F(OnnxIoTest, InitializersListedAsInputsAreNotRuntimeInputs) {
  Model model = hand_built_model();
  model.graph.inputs.push_back(ValueInfo{"B", DType::kFloat32, {Dim::fixed(3)}});
  ASSERT_TRUE(save_onnx(model, path("legacy.onnx")).ok());
  auto loaded = load_onnx(path("legacy.onnx"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  ASSERT_EQ(loaded->graph.inputs.size(), 1u);
  EXPECT_EQ(loaded->graph.inputs[0].name, "x");
  EXPECT_TRUE(loaded->graph.is_initializer("B"));
}

TEST_F(OnnxIoTest, TensorFilesRoundTripEveryDtype) {
  const std::vector<Tensor> tensors = {
      Tensor::from_vector<float>({2, 3}, {1, 2, 3, -4, 5.5f, 1e-30f}),
      Tensor::from_vector<int64_t>({3}, {-1, 0, int64_t{1} << 50}),
      Tensor::from_vector<int32_t>({1, 2}, {-5, 70000}),
      Tensor::from_vector<int8_t>({2}, {-100, 100}),
      Tensor::from_vector<uint8_t>({2}, {0, 250}),
      Tensor::from_vector<bool>({3}, {true, false, true}),
      Tensor::scalar(2.5f),
      Tensor(DType::kFloat32, {0, 4}),
  };
  for (size_t i = 0; i < tensors.size(); ++i) {
    std::string name = "t";  // appended, not "t" + ...: GCC 12 warns falsely (-Wrestrict) on that
    name += std::to_string(i) + ".pb";
    const std::string p = path(name);
    ASSERT_TRUE(save_tensor_pb(tensors[i], p).ok());
    auto loaded = load_tensor_pb(p);
    ASSERT_TRUE(loaded.ok()) << loaded.status().message();
    expect_same_tensor(tensors[i], *loaded, p);
  }
}

TEST_F(OnnxIoTest, TypedDataFieldsAreRead) {
  Proto floats;
  floats.varint(kDims, 2).varint(kDims, 2).varint(kDataType, kFloat);
  for (float f : {1.5f, -2.0f, 0.0f, 3e8f}) floats.float32(kFloatData, f);
  write("floats.pb", floats.str());
  auto t = load_tensor_pb(path("floats.pb"));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->shape(), (Shape{2, 2}));
  EXPECT_EQ(std::vector<float>(t->span<float>().begin(), t->span<float>().end()),
            (std::vector<float>{1.5f, -2.0f, 0.0f, 3e8f}));

  Proto int64s;
  int64s.varint(kDims, 3)
      .varint(kDataType, kInt64)
      .sint(kInt64Data, -9)
      .sint(kInt64Data, 0)
      .sint(kInt64Data, int64_t{1} << 45);
  write("int64s.pb", int64s.str());
  t = load_tensor_pb(path("int64s.pb"));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->to_int64_vector(), (std::vector<int64_t>{-9, 0, int64_t{1} << 45}));

  // int32, int8, uint8 and bool all travel in int32_data.
  struct Case {
    int type;
    DType dtype;
    std::vector<int64_t> values;
  };
  for (const Case& c :
       {Case{kInt32, DType::kInt32, {-100000, 5}}, Case{kInt8, DType::kInt8, {-5, 7}},
        Case{kUint8, DType::kUInt8, {200, 3}}, Case{kBool, DType::kBool, {1, 0}}}) {
    Proto p;
    p.varint(kDims, 2).varint(kDataType, c.type);
    for (int64_t v : c.values) p.sint(kInt32Data, v);
    write("ints.pb", p.str());
    t = load_tensor_pb(path("ints.pb"));
    ASSERT_TRUE(t.ok()) << t.status().message();
    ASSERT_EQ(t->dtype(), c.dtype);
    for (size_t i = 0; i < c.values.size(); ++i) {
      int64_t got = 0;
      if (c.dtype == DType::kInt32) got = t->data<int32_t>()[i];
      if (c.dtype == DType::kInt8) got = t->data<int8_t>()[i];
      if (c.dtype == DType::kUInt8) got = t->data<uint8_t>()[i];
      if (c.dtype == DType::kBool) got = t->data<bool>()[i] ? 1 : 0;
      EXPECT_EQ(got, c.values[i]) << dtype_name(c.dtype) << " element " << i;
    }
  }

  // Too few values for the shape: corrupt, and said so.
  Proto short_data;
  short_data.varint(kDims, 3).varint(kDataType, kFloat).float32(kFloatData, 1.0f);
  write("short.pb", short_data.str());
  t = load_tensor_pb(path("short.pb"));
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("short.pb"), std::string::npos) << t.status().message();
  EXPECT_NE(t.status().message().find("float_data"), std::string::npos) << t.status().message();
}

TEST_F(OnnxIoTest, TorchFilesLoadWithTheirNamesShapesAndOpset) {
  auto model = load_onnx(kTorchDir + "/cnn_dynamic.onnx");
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ(model->opset, 13);
  ASSERT_EQ(model->graph.inputs.size(), 1u);
  const ValueInfo& in = model->graph.inputs[0];
  EXPECT_EQ(in.name, "input");
  EXPECT_EQ(in.dims, (std::vector<Dim>{Dim::symbolic("batch"), Dim::fixed(1), Dim::fixed(28),
                                       Dim::fixed(28)}));
  EXPECT_EQ(in.concrete_shape(3), (Shape{3, 1, 28, 28}));
  ASSERT_EQ(model->graph.outputs.size(), 1u);
  EXPECT_EQ(model->graph.outputs[0].dims,
            (std::vector<Dim>{Dim::symbolic("batch"), Dim::fixed(10)}));
  EXPECT_EQ(model->graph.initializers.at("conv1.weight").shape(), (Shape{4, 1, 3, 3}));
  EXPECT_EQ(model->graph.initializers.at("conv2.weight").shape(), (Shape{8, 2, 3, 3}));
  const Node* conv2 = model->graph.producer_of("/conv2/Conv_output_0");
  ASSERT_NE(conv2, nullptr);
  EXPECT_EQ(conv2->attr_int("group", 1), 2);
  EXPECT_EQ(conv2->attr_ints("strides"), (std::vector<int64_t>{2, 2}));
}

}  // namespace
}  // namespace retort
