// Hand-encoded ONNX protobuf for tests: files the IR cannot express (typed data fields,
// float16, no graph, dims that do not match the data) built without the protobuf headers.
#pragma once

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

namespace retort::testing::onnx_wire {

// Encodes protobuf wire format.
class Proto {
 public:
  Proto& varint(int field, uint64_t v) {
    tag(field, 0);
    put_varint(v);
    return *this;
  }
  Proto& sint(int field, int64_t v) { return varint(field, static_cast<uint64_t>(v)); }
  Proto& bytes(int field, std::string_view b) {
    tag(field, 2);
    put_varint(b.size());
    out_.append(b);
    return *this;
  }
  Proto& message(int field, const Proto& m) { return bytes(field, m.out_); }
  Proto& float32(int field, float f) {
    tag(field, 5);
    const auto bits = std::bit_cast<uint32_t>(f);
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
    return *this;
  }
  const std::string& str() const { return out_; }

 private:
  void tag(int field, int wire_type) { put_varint(static_cast<uint64_t>(field) << 3 | wire_type); }
  void put_varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  std::string out_;
};

// Field numbers of onnx.proto.
enum TensorField {
  kDims = 1,
  kDataType = 2,
  kFloatData = 4,
  kInt32Data = 5,
  kInt64Data = 7,
  kName = 8,
  kRawData = 9
};
enum OnnxType {
  kFloat = 1,
  kUint8 = 2,
  kInt8 = 3,
  kInt32 = 6,
  kInt64 = 7,
  kBool = 9,
  kFloat16 = 10
};

// Field numbers of the other onnx.proto messages used here.
enum GraphField {
  kGraphNode = 1,
  kGraphName = 2,
  kGraphInitializer = 5,
  kGraphInput = 11,
  kGraphOutput = 12
};
enum NodeField {
  kNodeInput = 1,
  kNodeOutput = 2,
  kNodeName = 3,
  kNodeOpType = 4,
  kNodeAttribute = 5
};
enum AttributeField { kAttrName = 1, kAttrTensor = 5, kAttrType = 20 };
constexpr int kAttrTypeTensor = 4;
enum ModelField { kModelIrVersion = 1, kModelGraph = 7, kModelOpsetImport = 8 };

// A model (IR 8, opset 13) around `graph`.
inline std::string model_bytes(const Proto& graph) {
  Proto opset;
  opset.bytes(1, "").varint(2, 13);
  Proto model;
  model.varint(kModelIrVersion, 8).message(kModelOpsetImport, opset).message(kModelGraph, graph);
  return model.str();
}

}  // namespace retort::testing::onnx_wire
