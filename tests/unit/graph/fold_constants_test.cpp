#include "retort/graph/fold_constants.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "retort/graph/onnx_io.h"

namespace retort {
namespace {

const std::string kTorchDir = std::string(RETORT_TEST_DATA_DIR) + "/torch";

Node node(std::string name, std::string op, std::vector<std::string> inputs,
          std::vector<std::string> outputs, std::map<std::string, Attribute> attrs = {}) {
  return Node{std::move(name),   std::move(op),      "",
              std::move(inputs), std::move(outputs), std::move(attrs)};
}

Node constant(const std::string& out, Tensor value) {
  return node(out, "Constant", {}, {out}, {{"value", Attribute::of_tensor(std::move(value))}});
}

Tensor i64(Shape shape, std::vector<int64_t> values) {
  return Tensor::from_vector<int64_t>(std::move(shape), values);
}

std::vector<std::string> op_types(const Graph& g) {
  std::vector<std::string> ops;
  for (const Node& n : g.nodes) ops.push_back(n.op_type);
  return ops;
}

const Node* find_node(const Graph& g, const std::string& name) {
  for (const Node& n : g.nodes)
    if (n.name == name) return &n;
  return nullptr;
}

// The constant shape a Reshape ended up with.
std::vector<int64_t> reshape_target(const Graph& g, const std::string& reshape) {
  const Node* n = find_node(g, reshape);
  if (n == nullptr || n->inputs.size() < 2 || !g.is_initializer(n->inputs[1])) return {};
  return g.initializers.at(n->inputs[1]).to_int64_vector();
}

const Dim kBatch = Dim::symbolic("batch");

// x: [batch, 1, 28, 28] -> flatten to [batch, 784] -> Gemm -> y: [batch, 10]. `shape_nodes`
// compute the Reshape's shape input "target" from x.
Model flatten_model(std::vector<Node> shape_nodes,
                    std::vector<Dim> input_dims = {kBatch, Dim::fixed(1), Dim::fixed(28),
                                                   Dim::fixed(28)}) {
  Model m;
  Graph& g = m.graph;
  g.inputs = {ValueInfo{"x", DType::kFloat32, std::move(input_dims)}};
  g.outputs = {ValueInfo{"y", DType::kFloat32, {kBatch, Dim::fixed(10)}}};
  g.initializers["W"] = Tensor(DType::kFloat32, {10, 784});
  g.initializers["B"] = Tensor(DType::kFloat32, {10});
  g.nodes = std::move(shape_nodes);
  g.nodes.push_back(node("flatten", "Reshape", {"x", "target"}, {"flat"}));
  g.nodes.push_back(
      node("fc", "Gemm", {"flat", "W", "B"}, {"y"}, {{"transB", Attribute::of_int(1)}}));
  return m;
}

TEST(FoldConstants, TorchViewPatternBecomesOneReshapeWithConstantShape) {
  // What torch.onnx.export emits for x.view(x.size(0), -1) with a dynamic batch.
  Model m = flatten_model({
      node("shape", "Shape", {"x"}, {"s"}),
      constant("zero", i64({}, {0})),
      node("gather", "Gather", {"s", "zero"}, {"n"}, {{"axis", Attribute::of_int(0)}}),
      constant("axes", i64({1}, {0})),
      node("unsqueeze", "Unsqueeze", {"n", "axes"}, {"n1"}),
      constant("minus_one", i64({1}, {-1})),
      node("concat", "Concat", {"n1", "minus_one"}, {"target"}, {{"axis", Attribute::of_int(0)}}),
  });
  // Dead code and an unused weight that must disappear too.
  m.graph.nodes.push_back(node("dead_relu", "Relu", {"x"}, {"unused"}));
  m.graph.initializers["unused_weight"] = Tensor(DType::kFloat32, {5});
  ASSERT_TRUE(m.graph.sort_topologically().ok());

  Status s = fold_constants(m);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(op_types(m.graph), (std::vector<std::string>{"Reshape", "Gemm"}));
  EXPECT_EQ(reshape_target(m.graph, "flatten"), (std::vector<int64_t>{0, -1}));
  EXPECT_EQ(m.graph.initializers.size(), 3u);  // W, B and the shape
  EXPECT_FALSE(m.graph.is_initializer("unused_weight"));
  EXPECT_TRUE(m.graph.sort_topologically().ok());

  const auto shapes = infer_shapes(m.graph);
  EXPECT_EQ(shapes.at("flat"), (std::vector<Dim>{kBatch, Dim::fixed(784)}));
  EXPECT_EQ(shapes.at("y"), (std::vector<Dim>{kBatch, Dim::fixed(10)}));
}

TEST(FoldConstants, ProductOfStaticDimsFolds) {
  // x.view(x.size(0), x.size(1) * x.size(2) * x.size(3))
  std::vector<Node> nodes = {node("shape", "Shape", {"x"}, {"s"})};
  for (int i = 0; i < 4; ++i) {
    const std::string k = std::to_string(i);
    nodes.push_back(constant("i" + k, i64({}, {i})));
    nodes.push_back(node("gather" + k, "Gather", {"s", "i" + k}, {"d" + k}));
  }
  nodes.push_back(node("mul1", "Mul", {"d1", "d2"}, {"d12"}));
  nodes.push_back(node("mul2", "Mul", {"d12", "d3"}, {"d123"}));
  nodes.push_back(constant("axes", i64({1}, {0})));
  nodes.push_back(node("unsq0", "Unsqueeze", {"d0", "axes"}, {"u0"}));
  nodes.push_back(node("unsq1", "Unsqueeze", {"d123", "axes"}, {"u1"}));
  nodes.push_back(
      node("concat", "Concat", {"u0", "u1"}, {"target"}, {{"axis", Attribute::of_int(0)}}));
  Model m = flatten_model(nodes);
  ASSERT_TRUE(fold_constants(m).ok());
  EXPECT_EQ(op_types(m.graph), (std::vector<std::string>{"Reshape", "Gemm"}));
  EXPECT_EQ(reshape_target(m.graph, "flatten"), (std::vector<int64_t>{0, 784}));
}

TEST(FoldConstants, IntegerArithmeticOnTheBatchDimFolds) {
  // (n * 784) / 784 and (n + 5) - 5 are both the batch again.
  Model m = flatten_model({
      node("shape", "Shape", {"x"}, {"s"}),
      constant("zero", i64({}, {0})),
      node("gather", "Gather", {"s", "zero"}, {"n"}),
      constant("k784", i64({}, {784})),
      constant("k5", i64({}, {5})),
      node("mul", "Mul", {"n", "k784"}, {"n784"}),
      node("div", "Div", {"n784", "k784"}, {"n_again"}),
      node("add", "Add", {"n_again", "k5"}, {"n5"}),
      node("sub", "Sub", {"n5", "k5"}, {"n_final"}),
      constant("axes", i64({1}, {0})),
      node("unsqueeze", "Unsqueeze", {"n_final", "axes"}, {"n1"}),
      constant("minus_one", i64({1}, {-1})),
      node("concat", "Concat", {"n1", "minus_one"}, {"target"}),
  });
  Status s = fold_constants(m);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(op_types(m.graph), (std::vector<std::string>{"Reshape", "Gemm"}));
  EXPECT_EQ(reshape_target(m.graph, "flatten"), (std::vector<int64_t>{0, -1}));
}

TEST(FoldConstants, LoneSymbolicEntryElsewhereBecomesMinusOne) {
  // Shape [784, batch]: the batch is not the input's dim 1, but it is the only unknown.
  Model m = flatten_model({
      node("shape", "Shape", {"x"}, {"s"}),
      constant("zero", i64({1}, {0})),
      node("gather", "Gather", {"s", "zero"}, {"n1"}),  // 1-D indices: a 1-D result
      constant("k784", i64({1}, {784})),
      node("concat", "Concat", {"k784", "n1"}, {"target"}),
  });
  ASSERT_TRUE(fold_constants(m).ok());
  EXPECT_EQ(reshape_target(m.graph, "flatten"), (std::vector<int64_t>{784, -1}));
}

TEST(FoldConstants, ShapeThatCannotBeExpressedNamesTheNode) {
  // [batch * 2, -1]: neither the input's dim 0 nor the only unknown entry.
  Model m = flatten_model({
      node("shape", "Shape", {"x"}, {"s"}),
      constant("zero", i64({}, {0})),
      node("gather", "Gather", {"s", "zero"}, {"n"}),
      constant("two", i64({}, {2})),
      node("double", "Mul", {"n", "two"}, {"n2"}),
      constant("axes", i64({1}, {0})),
      node("unsqueeze", "Unsqueeze", {"n2", "axes"}, {"n2_1"}),
      constant("minus_one", i64({1}, {-1})),
      node("concat", "Concat", {"n2_1", "minus_one"}, {"target"}),
  });
  Status s = fold_constants(m);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::kUnsupported);
  EXPECT_NE(s.message().find("node 'flatten' (Reshape)"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("batch*2"), std::string::npos) << s.message();
}

TEST(FoldConstants, StaticShapesFoldCompletely) {
  Model m = flatten_model(
      {
          node("shape", "Shape", {"x"}, {"s"}),
          constant("zero", i64({}, {0})),
          node("gather", "Gather", {"s", "zero"}, {"n"}),
          constant("axes", i64({1}, {0})),
          node("unsqueeze", "Unsqueeze", {"n", "axes"}, {"n1"}),
          constant("minus_one", i64({1}, {-1})),
          node("concat", "Concat", {"n1", "minus_one"}, {"target"}),
      },
      {Dim::fixed(3), Dim::fixed(1), Dim::fixed(28), Dim::fixed(28)});
  ASSERT_TRUE(fold_constants(m).ok());
  EXPECT_EQ(op_types(m.graph), (std::vector<std::string>{"Reshape", "Gemm"}));
  EXPECT_EQ(reshape_target(m.graph, "flatten"), (std::vector<int64_t>{3, -1}));
}

TEST(FoldConstants, SliceCastSqueezeAndConstantOfShapeFold) {
  Model m;
  Graph& g = m.graph;
  g.inputs = {ValueInfo{"x", DType::kFloat32, {kBatch, Dim::fixed(3), Dim::fixed(4)}}};
  g.outputs = {ValueInfo{"y", DType::kFloat32, {kBatch, Dim::fixed(12)}}};
  const int64_t kEnd = std::numeric_limits<int64_t>::max();
  g.nodes = {
      node("shape", "Shape", {"x"}, {"s"}),
      constant("starts", i64({1}, {1})),
      constant("ends", i64({1}, {kEnd})),
      node("slice", "Slice", {"s", "starts", "ends"}, {"hw"}),  // [3, 4]
      node("to_i32", "Cast", {"hw"}, {"hw32"}, {{"to", Attribute::of_int(6)}}),
      node("to_i64", "Cast", {"hw32"}, {"hw64"}, {{"to", Attribute::of_int(7)}}),
      node("halves", "ConstantOfShape", {"hw64"}, {"half"},
           {{"value", Attribute::of_tensor(Tensor::from_vector<float>({1}, {0.5f}))}}),
      node("add", "Add", {"x", "half"}, {"sum"}),
      // Reshape to [-1, 12] with the 12 computed as squeeze(gather(s, [1])) * 4.
      constant("one", i64({1}, {1})),
      node("gather", "Gather", {"s", "one"}, {"c1"}),
      constant("axes", i64({1}, {0})),
      node("squeeze", "Squeeze", {"c1", "axes"}, {"c"}),
      constant("four", i64({}, {4})),
      node("mul", "Mul", {"c", "four"}, {"c4"}),
      node("unsqueeze", "Unsqueeze", {"c4", "axes"}, {"c4_1"}),
      constant("minus_one", i64({1}, {-1})),
      node("concat", "Concat", {"minus_one", "c4_1"}, {"target"}),
      node("reshape", "Reshape", {"sum", "target"}, {"y"}),
  };
  ASSERT_TRUE(g.sort_topologically().ok());
  Status s = fold_constants(m);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(op_types(g), (std::vector<std::string>{"Add", "Reshape"}));
  const Node* add = find_node(g, "add");
  ASSERT_NE(add, nullptr);
  ASSERT_TRUE(g.is_initializer(add->inputs[1]));
  const Tensor& half = g.initializers.at(add->inputs[1]);
  EXPECT_EQ(half.shape(), (Shape{3, 4}));
  for (float v : half.span<float>()) EXPECT_EQ(v, 0.5f);
  EXPECT_EQ(reshape_target(g, "reshape"), (std::vector<int64_t>{-1, 12}));
  EXPECT_EQ(infer_shapes(g).at("y"), (std::vector<Dim>{kBatch, Dim::fixed(12)}));
}

TEST(FoldConstants, ConstantsBecomeInitializersButFloatComputationStays) {
  Model m;
  Graph& g = m.graph;
  g.inputs = {ValueInfo{"x", DType::kFloat32, {kBatch, Dim::fixed(2)}}};
  g.outputs = {ValueInfo{"y", DType::kFloat32, {kBatch, Dim::fixed(2)}}};
  g.nodes = {
      constant("scale", Tensor::from_vector<float>({2}, {2.0f, 3.0f})),
      node("alias", "Identity", {"scale"}, {"scale_alias"}),
      node("mul", "Mul", {"x", "scale_alias"}, {"scaled"}),
      constant("a", Tensor::from_vector<float>({1}, {1.0f})),
      constant("b", Tensor::from_vector<float>({1}, {2.0f})),
      node("add_consts", "Add", {"a", "b"}, {"ab"}),
      node("add", "Add", {"scaled", "ab"}, {"y"}),
  };
  Status s = fold_constants(m);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(op_types(g), (std::vector<std::string>{"Mul", "Add", "Add"}));
  EXPECT_NE(find_node(g, "add_consts"), nullptr);  // float Add of constants is not folded
  ASSERT_TRUE(g.is_initializer("scale_alias"));
  EXPECT_EQ(g.initializers.at("scale_alias").data<float>()[1], 3.0f);
  EXPECT_TRUE(g.is_initializer("a"));
  EXPECT_TRUE(g.is_initializer("b"));
  EXPECT_FALSE(g.is_initializer("scale"));  // only the folded Identity read it
}

TEST(FoldConstants, SharedShapeValueGetsOneConstantPerReshape) {
  // Two Reshapes read the same symbolic shape but their inputs differ at position 0.
  Model m;
  Graph& g = m.graph;
  g.inputs = {ValueInfo{"x", DType::kFloat32, {kBatch, Dim::fixed(6)}},
              ValueInfo{"z", DType::kFloat32, {Dim::fixed(6), kBatch}}};
  g.outputs = {ValueInfo{"y1", DType::kFloat32, {}}, ValueInfo{"y2", DType::kFloat32, {}}};
  g.nodes = {
      node("shape", "Shape", {"x"}, {"s"}),
      constant("zero", i64({1}, {0})),
      node("gather", "Gather", {"s", "zero"}, {"n"}),
      constant("rest", i64({2}, {2, 3})),
      node("concat", "Concat", {"n", "rest"}, {"target"}),
      node("r1", "Reshape", {"x", "target"}, {"y1"}),
      node("r2", "Reshape", {"z", "target"}, {"y2"}),
  };
  Status s = fold_constants(m);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(op_types(g), (std::vector<std::string>{"Reshape", "Reshape"}));
  EXPECT_EQ(reshape_target(g, "r1"), (std::vector<int64_t>{0, 2, 3}));
  EXPECT_EQ(reshape_target(g, "r2"), (std::vector<int64_t>{-1, 2, 3}));
  EXPECT_NE(find_node(g, "r1")->inputs[1], find_node(g, "r2")->inputs[1]);
}

TEST(FoldConstants, TorchMlpExportsFold) {
  for (const char* name : {"mlp_dynamic.onnx", "mlp_static.onnx"}) {
    SCOPED_TRACE(name);
    auto m = load_onnx(kTorchDir + "/" + name);
    ASSERT_TRUE(m.ok()) << m.status().message();
    EXPECT_EQ(op_types(m->graph),
              (std::vector<std::string>{"Reshape", "Gemm", "Relu", "Gemm", "Relu", "Gemm"}));
    // The static export's [3, 784] lost its batch of 3 to make_batch_symbolic.
    const std::vector<int64_t> expected = std::string(name) == "mlp_dynamic.onnx"
                                              ? std::vector<int64_t>{0, -1}
                                              : std::vector<int64_t>{-1, 784};
    EXPECT_EQ(reshape_target(m->graph, "/Reshape"), expected);
    EXPECT_EQ(m->graph.initializers.size(), 7u);  // 3 weights, 3 biases, 1 shape
  }
}

TEST(FoldConstants, InferShapesFollowsTheTorchCnn) {
  auto m = load_onnx(kTorchDir + "/cnn_dynamic.onnx");
  ASSERT_TRUE(m.ok()) << m.status().message();
  const auto shapes = infer_shapes(m->graph);
  auto dims = [&](const std::string& v) {
    auto it = shapes.find(v);
    return it == shapes.end() ? std::vector<Dim>{} : it->second;
  };
  auto fixed = [](std::vector<int64_t> rest) {
    std::vector<Dim> d{kBatch};
    for (int64_t x : rest) d.push_back(Dim::fixed(x));
    return d;
  };
  EXPECT_EQ(dims("/conv1/Conv_output_0"), fixed({4, 28, 28}));
  EXPECT_EQ(dims("/bn1/BatchNormalization_output_0"), fixed({4, 28, 28}));
  EXPECT_EQ(dims("/MaxPool_output_0"), fixed({4, 14, 14}));
  EXPECT_EQ(dims("/conv2/Conv_output_0"), fixed({8, 6, 6}));
  EXPECT_EQ(dims("/Pad_output_0"), fixed({8, 6, 6}));
  EXPECT_EQ(dims("/AveragePool_output_0"), fixed({8, 3, 3}));
  EXPECT_EQ(dims("/Flatten_output_0"), fixed({72}));
  EXPECT_EQ(dims("output"), fixed({10}));
}

TEST(FoldConstants, PoolingAndConvolutionShapeRules) {
  Model m;
  Graph& g = m.graph;
  g.inputs = {ValueInfo{
      "x", DType::kFloat32, {Dim::fixed(1), Dim::fixed(3), Dim::fixed(5), Dim::fixed(5)}}};
  g.initializers["w"] = Tensor(DType::kFloat32, {6, 3, 3, 3});
  g.nodes = {
      node("same", "Conv", {"x", "w"}, {"c_same"},
           {{"auto_pad", Attribute::of_string("SAME_UPPER")},
            {"strides", Attribute::of_ints({2, 2})}}),
      node("dilated", "Conv", {"x", "w"}, {"c_dil"},
           {{"dilations", Attribute::of_ints({2, 2})}, {"pads", Attribute::of_ints({1, 1, 1, 1})}}),
      node("ceil", "MaxPool", {"x"}, {"p_ceil"},
           {{"kernel_shape", Attribute::of_ints({2, 2})},
            {"strides", Attribute::of_ints({2, 2})},
            {"ceil_mode", Attribute::of_int(1)}}),
      node("gap", "GlobalAveragePool", {"c_same"}, {"gap_out"}),
      node("mm", "MatMul", {"x", "x"}, {"mm_out"}),
  };
  g.outputs = {ValueInfo{"c_dil", DType::kFloat32, {}}, ValueInfo{"p_ceil", DType::kFloat32, {}},
               ValueInfo{"gap_out", DType::kFloat32, {}}, ValueInfo{"mm_out", DType::kFloat32, {}}};
  const auto shapes = infer_shapes(g);
  auto fixed = [](std::vector<int64_t> d) {
    std::vector<Dim> out;
    for (int64_t x : d) out.push_back(Dim::fixed(x));
    return out;
  };
  EXPECT_EQ(shapes.at("c_same"), fixed({1, 6, 3, 3}));
  EXPECT_EQ(shapes.at("c_dil"), fixed({1, 6, 3, 3}));
  EXPECT_EQ(shapes.at("p_ceil"), fixed({1, 3, 3, 3}));
  EXPECT_EQ(shapes.at("gap_out"), fixed({1, 6, 1, 1}));
  EXPECT_EQ(shapes.at("mm_out"), fixed({1, 3, 5, 5}));
}

// ---- dims from a hostile file: arithmetic that overflows int64 --------------------------------
// Each used to be undefined behaviour: a wrapped value folded as if it were right, an index far
// out of bounds, or a trap (INT64_MIN / -1).

constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// `value` feeds a node of a custom domain (never folded) whose output is the graph's.
Model keeping(std::vector<Node> nodes, const std::string& value) {
  Model m;
  m.graph.inputs = {ValueInfo{"x", DType::kFloat32, {kBatch, Dim::fixed(1), Dim::fixed(28)}}};
  m.graph.outputs = {ValueInfo{"kept", DType::kFloat32, {}}};
  m.graph.nodes = std::move(nodes);
  m.graph.nodes.push_back(Node{"keep", "Keep", "test.retort", {"x", value}, {"kept"}, {}});
  return m;
}

TEST(FoldConstants, ConstantOfShapeWhoseElementCountOverflowsIsNotFolded) {
  // 2^62 * 4 wraps to 0 in int64: it was folded into an "empty" tensor of shape [2^62, 4].
  Model m = keeping({constant("shape", i64({2}, {int64_t{1} << 62, 4})),
                     node("fill", "ConstantOfShape", {"shape"}, {"big"})},
                    "big");
  ASSERT_TRUE(fold_constants(m).ok());
  EXPECT_FALSE(m.graph.is_initializer("big"));
  EXPECT_NE(find_node(m.graph, "fill"), nullptr);
}

TEST(FoldConstants, SliceWithAHugeStepTakesOneElement) {
  // Shape(x) = [batch, 1, 28]; [1:3:INT64_MAX] is [1]. The index used to step past the end.
  Model m = keeping({node("shape", "Shape", {"x"}, {"s"}), constant("starts", i64({1}, {1})),
                     constant("ends", i64({1}, {3})), constant("axes", i64({1}, {0})),
                     constant("steps", i64({1}, {kInt64Max})),
                     node("slice", "Slice", {"s", "starts", "ends", "axes", "steps"}, {"one"})},
                    "one");
  ASSERT_TRUE(fold_constants(m).ok());
  ASSERT_TRUE(m.graph.is_initializer("one"));
  EXPECT_EQ(m.graph.initializers.at("one").to_int64_vector(), (std::vector<int64_t>{1}));
}

TEST(FoldConstants, CastOfFloatsOutsideInt64Saturates) {
  Model m = keeping({constant("f", Tensor::from_vector<float>({3}, {1e30f, -1e30f, NAN})),
                     node("cast", "Cast", {"f"}, {"i"}, {{"to", Attribute::of_int(7)}})},
                    "i");
  ASSERT_TRUE(fold_constants(m).ok());
  ASSERT_TRUE(m.graph.is_initializer("i"));
  EXPECT_EQ(m.graph.initializers.at("i").to_int64_vector(),
            (std::vector<int64_t>{kInt64Max, kInt64Min, 0}));
}

TEST(FoldConstants, OverflowingIntegerArithmeticIsNotFolded) {
  // INT64_MIN / -1 trapped (SIGFPE); 2^62 * 4 and INT64_MAX + 1 folded to wrapped values.
  Model m =
      keeping({constant("min", i64({1}, {kInt64Min})), constant("minus_one", i64({1}, {-1})),
               node("div", "Div", {"min", "minus_one"}, {"q"}),
               constant("big", i64({1}, {int64_t{1} << 62})), constant("four", i64({1}, {4})),
               node("mul", "Mul", {"big", "four"}, {"p"}), constant("max", i64({1}, {kInt64Max})),
               constant("one", i64({1}, {1})), node("add", "Add", {"max", "one"}, {"s"}),
               node("concat", "Concat", {"q", "p", "s"}, {"all"})},
              "all");
  ASSERT_TRUE(fold_constants(m).ok());
  EXPECT_FALSE(m.graph.is_initializer("all"));
  for (const char* op : {"div", "mul", "add"}) EXPECT_NE(find_node(m.graph, op), nullptr) << op;
}

TEST(FoldConstants, WindowAndPadShapesThatOverflowAreUnknown) {
  Model m;
  Graph& g = m.graph;
  g.inputs = {ValueInfo{"x", DType::kFloat32, {Dim::fixed(1), Dim::fixed(1), Dim::fixed(28)}}};
  g.outputs = {ValueInfo{"pooled", DType::kFloat32, {}}, ValueInfo{"padded", DType::kFloat32, {}}};
  g.nodes = {node("pool", "MaxPool", {"x"}, {"pooled"},
                  {{"kernel_shape", Attribute::of_ints({5})},
                   {"dilations", Attribute::of_ints({int64_t{1} << 62})}}),
             node("pad", "Pad", {"x"}, {"padded"},
                  {{"pads", Attribute::of_ints({0, 0, kInt64Max, 0, 0, 1})}})};
  const auto shapes = infer_shapes(g);
  ASSERT_TRUE(shapes.count("pooled"));
  ASSERT_EQ(shapes.at("pooled").size(), 3u);
  EXPECT_FALSE(shapes.at("pooled")[2].is_fixed());  // was a wrapped, meaningless number
  EXPECT_FALSE(shapes.count("padded"));
}

}  // namespace
}  // namespace retort
