// Files whose sizes lie: dims that claim far more elements than the data the file holds. Each
// used to allocate the claimed size first (std::bad_alloc, an abort of retort eval/validate/run);
// now the dims are checked against the data before anything is allocated.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "graph/onnx_wire.h"
#include "retort/graph/onnx_io.h"

namespace retort {
namespace {

namespace fs = std::filesystem;
using namespace testing::onnx_wire;  // NOLINT(google-build-using-namespace)

constexpr uint64_t kTwoTo20 = uint64_t{1} << 20;
constexpr uint64_t kTwoTo40 = uint64_t{1} << 40;

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "\"" << text << "\"\n  does not contain \"" << part << "\"";
}

class OnnxHostileSizesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("retort_onnx_hostile_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& bytes) const {
    const std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  fs::path dir_;
};

// A model whose only content is `initializer`.
std::string model_with_initializer(const Proto& initializer) {
  Proto graph;
  graph.bytes(kGraphName, "g").message(kGraphInitializer, initializer);
  return model_bytes(graph);
}

TEST_F(OnnxHostileSizesTest, InitializerClaimingTwoTo40ElementsWithFourBytesOfRawData) {
  Proto huge;
  huge.varint(kDims, kTwoTo40)
      .varint(kDataType, kFloat)
      .bytes(kName, "huge.weight")
      .bytes(kRawData, std::string(4, '\0'));
  const std::string path = write("huge_raw.onnx", model_with_initializer(huge));
  auto model = load_onnx(path);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), ErrorCode::kParse);
  const std::string& m = model.status().message();
  EXPECT_TRUE(contains(m, path));
  EXPECT_TRUE(contains(m, "initializer 'huge.weight'"));
  EXPECT_TRUE(contains(m, "has 4 bytes of raw_data"));
  EXPECT_TRUE(contains(m, "[1099511627776]"));
  EXPECT_TRUE(contains(m, "need 4398046511104"));
  EXPECT_TRUE(contains(m, "corrupt"));
}

TEST_F(OnnxHostileSizesTest, TypedDataFieldsClaimingTwoTo40Elements) {
  struct Case {
    int type;
    int field;
    const char* field_name;
  };
  for (const Case& c :
       {Case{kFloat, kFloatData, "float_data"}, Case{kInt64, kInt64Data, "int64_data"},
        Case{kInt32, kInt32Data, "int32_data"}, Case{kUint8, kInt32Data, "int32_data"}}) {
    Proto huge;
    huge.varint(kDims, kTwoTo20).varint(kDims, kTwoTo20).varint(kDataType, c.type);
    huge.bytes(kName, "typed");
    if (c.field == kFloatData)
      huge.float32(c.field, 1.0f);
    else
      huge.sint(c.field, 7);
    const std::string path = write("typed.onnx", model_with_initializer(huge));
    auto model = load_onnx(path);
    ASSERT_FALSE(model.ok()) << c.field_name;
    const std::string& m = model.status().message();
    EXPECT_TRUE(contains(m, path));
    EXPECT_TRUE(contains(m, "initializer 'typed' has 1 values in " + std::string(c.field_name)));
    EXPECT_TRUE(contains(m, "needs 1099511627776"));
  }
}

TEST_F(OnnxHostileSizesTest, ConstantNodeTensorClaimingTwoTo40Elements) {
  Proto tensor;
  tensor.varint(kDims, kTwoTo40).varint(kDataType, kInt64).bytes(kRawData, std::string(8, '\0'));
  Proto attribute;
  attribute.bytes(kAttrName, "value")
      .message(kAttrTensor, tensor)
      .varint(kAttrType, kAttrTypeTensor);
  Proto node;
  node.bytes(kNodeOutput, "c")
      .bytes(kNodeName, "the_constant")
      .bytes(kNodeOpType, "Constant")
      .message(kNodeAttribute, attribute);
  Proto graph;
  graph.message(kGraphNode, node).bytes(kGraphName, "g");
  const std::string path = write("constant.onnx", model_bytes(graph));
  auto model = load_onnx(path);
  ASSERT_FALSE(model.ok());
  const std::string& m = model.status().message();
  EXPECT_TRUE(contains(m, path));
  EXPECT_TRUE(contains(m, "node 'the_constant' (Constant): attribute 'value'"));
  EXPECT_TRUE(contains(m, "has 8 bytes of raw_data"));
}

TEST_F(OnnxHostileSizesTest, TensorFileClaimingTwoTo40Elements) {
  Proto huge;
  huge.varint(kDims, kTwoTo40)
      .varint(kDataType, kUint8)
      .bytes(kName, "input_0")
      .bytes(kRawData, "abc");
  const std::string path = write("input_0.pb", huge.str());
  auto t = load_tensor_pb(path);
  ASSERT_FALSE(t.ok());
  const std::string& m = t.status().message();
  EXPECT_TRUE(contains(m, path));
  EXPECT_TRUE(contains(m, "tensor 'input_0' has 3 bytes of raw_data"));
}

TEST_F(OnnxHostileSizesTest, DimsWhoseProductOverflowsOrIsNegative) {
  Proto overflow;
  overflow.varint(kDims, uint64_t{1} << 62)
      .varint(kDims, 8)
      .varint(kDataType, kFloat)
      .bytes(kName, "wraps")
      .bytes(kRawData, "");  // 2^65 elements wrap to 0 in int64: the data must not match that
  auto model = load_onnx(write("overflow.onnx", model_with_initializer(overflow)));
  ASSERT_FALSE(model.ok());
  EXPECT_TRUE(contains(model.status().message(), "initializer 'wraps'"));
  EXPECT_TRUE(contains(model.status().message(), "overflows 64 bits"));

  Proto negative;
  negative.sint(kDims, -3).varint(kDataType, kFloat).bytes(kName, "neg").bytes(kRawData, "");
  model = load_onnx(write("negative.onnx", model_with_initializer(negative)));
  ASSERT_FALSE(model.ok());
  EXPECT_TRUE(contains(model.status().message(), "initializer 'neg' has a negative dimension -3"));
}

}  // namespace
}  // namespace retort
