#include "retort/arch/build_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>

#include "arch/arch_test_util.h"
#include "retort/arch/families.h"

namespace retort::arch {
namespace {

using nlohmann::json;
using testing::build_or_fail;
using testing::find_node;
using testing::learnable_parameters;
using testing::node_names;
using testing::op_types;
using Strings = std::vector<std::string>;

// parameter_count() counts learnable parameters only: not the baked-in normalisation, batch-norm
// running statistics or dropout ratios (checked against the independent count by name).

TEST(BuildModel, KnownArchitecturesAreSorted) {
  EXPECT_EQ(known_architectures(),
            (Strings{"cnn", "lenet-300-100", "lenet5", "mlp", "plain-cnn", "resnet"}));
}

TEST(BuildModel, Lenet300100ParameterCount) {
  Model m = build_or_fail({{"arch", "lenet-300-100"}});
  // 784*300+300 + 300*100+100 + 100*10+10
  EXPECT_EQ(learnable_parameters(m), 266'610);
  EXPECT_EQ(m.parameter_count(), learnable_parameters(m));
  for (const char* name : {"fc1.weight", "fc1.bias", "fc2.weight", "fc3.weight", "fc3.bias"})
    EXPECT_TRUE(m.graph.is_initializer(name)) << name;
  EXPECT_EQ(m.graph.initializers.at("fc1.weight").shape(), (Shape{300, 784}));
}

TEST(BuildModel, MlpParameterCount) {
  Model m = build_or_fail({{"arch", "mlp"}, {"hidden", {256, 256}}});
  // 784*256+256 + 256*256+256 + 256*10+10
  EXPECT_EQ(learnable_parameters(m), 269'322);
  EXPECT_EQ(m.parameter_count(), learnable_parameters(m));

  Model teacher = build_or_fail({{"arch", "mlp"}, {"hidden", {1200, 1200}}});
  // 784*1200+1200 + 1200*1200+1200 + 1200*10+10
  EXPECT_EQ(learnable_parameters(teacher), 2'395'210);
}

TEST(BuildModel, MlpDefaultsAndNodeSequence) {
  Model m = build_or_fail({{"arch", "mlp"}, {"hidden", {16}}, {"dropout", 0.25}});
  EXPECT_EQ(op_types(m), (Strings{"Sub", "Div", "Flatten", "Gemm", "Relu", "Dropout", "Gemm"}));
  EXPECT_EQ(node_names(m), (Strings{"normalize.sub", "normalize.div", "flatten", "fc1", "fc1.relu",
                                    "fc1.dropout", "fc2"}));
  const Node* fc1 = find_node(m, "fc1");
  ASSERT_NE(fc1, nullptr);
  EXPECT_EQ(fc1->inputs, (Strings{"flatten", "fc1.weight", "fc1.bias"}));
  EXPECT_EQ(fc1->outputs, (Strings{"fc1"}));
  EXPECT_EQ(fc1->attr_int("transB", 0), 1);
  const Node* dropout = find_node(m, "fc1.dropout");
  ASSERT_NE(dropout, nullptr);
  ASSERT_EQ(dropout->inputs.size(), 2u);
  EXPECT_FLOAT_EQ(m.graph.initializers.at(dropout->inputs[1]).data<float>()[0], 0.25f);
  EXPECT_EQ(m.graph.nodes.back().outputs, (Strings{"logits"}));
  // 784*16+16 + 16*10+10, plus the normalisation and the dropout ratio.
  EXPECT_EQ(m.parameter_count(), learnable_parameters(m));

  Model defaults = build_or_fail({{"arch", "mlp"}});
  // 784*256+256 + 256*128+128 + 128*10+10
  EXPECT_EQ(learnable_parameters(defaults), 235'146);
  EXPECT_EQ(find_node(defaults, "fc1.dropout"), nullptr) << "no Dropout when dropout is 0";
}

TEST(BuildModel, InputOutputAndNormalization) {
  Model m = build_or_fail({{"arch", "mlp"},
                           {"input", {3, 32, 32}},
                           {"classes", 100},
                           {"normalize", {{"mean", {0.1, 0.2, 0.3}}, {"std", 0.5}}}});
  ASSERT_EQ(m.graph.inputs.size(), 1u);
  const ValueInfo& in = m.graph.inputs[0];
  EXPECT_EQ(in.name, "input");
  EXPECT_EQ(in.dtype, DType::kFloat32);
  ASSERT_EQ(in.dims.size(), 4u);
  EXPECT_FALSE(in.dims[0].is_fixed());
  EXPECT_EQ(in.dims[0].param, "N");
  EXPECT_EQ(in.concrete_shape(5), (Shape{5, 3, 32, 32}));
  ASSERT_EQ(m.graph.outputs.size(), 1u);
  EXPECT_EQ(m.graph.outputs[0].name, "logits");
  EXPECT_EQ(m.graph.outputs[0].concrete_shape(5), (Shape{5, 100}));

  ASSERT_GE(m.graph.nodes.size(), 2u);
  EXPECT_EQ(m.graph.nodes[0].op_type, "Sub");
  EXPECT_EQ(m.graph.nodes[0].inputs, (Strings{"input", "normalize.mean"}));
  EXPECT_EQ(m.graph.nodes[1].op_type, "Div");
  EXPECT_EQ(m.graph.nodes[1].inputs, (Strings{"normalize.sub", "normalize.std"}));
  const Tensor& mean = m.graph.initializers.at("normalize.mean");
  const Tensor& std = m.graph.initializers.at("normalize.std");
  EXPECT_EQ(mean.shape(), (Shape{1, 3, 1, 1}));
  EXPECT_EQ(std.shape(), (Shape{1, 3, 1, 1}));
  EXPECT_FLOAT_EQ(mean.data<float>()[2], 0.3f);
  EXPECT_FLOAT_EQ(std.data<float>()[1], 0.5f);
  EXPECT_EQ(m.graph.initializers.at("fc1.weight").shape(), (Shape{256, 3 * 32 * 32}));
}

TEST(BuildModel, DefaultNormalizationIsFashionMnist) {
  Model m = build_or_fail({{"arch", "lenet-300-100"}});
  EXPECT_FLOAT_EQ(m.graph.initializers.at("normalize.mean").data<float>()[0], 0.2860f);
  EXPECT_FLOAT_EQ(m.graph.initializers.at("normalize.std").data<float>()[0], 0.3530f);
  EXPECT_EQ(m.graph.initializers.at("normalize.mean").shape(), (Shape{1, 1, 1, 1}));
}

TEST(BuildModel, MetadataStatesInputConventionClassesAndResolvedSpec) {
  json spec = {{"arch", "mlp"}, {"hidden", {32}}, {"class_names", {"cat", "dog", "bird"}}};
  Model m = build_or_fail(spec);
  EXPECT_EQ(m.metadata.at("retort.input"), "NCHW float32 raw pixels in [0,1]");
  EXPECT_EQ(json::parse(m.metadata.at("retort.classes")), json({"cat", "dog", "bird"}));
  EXPECT_EQ(m.graph.outputs[0].concrete_shape(1), (Shape{1, 3}));

  const json arch = json::parse(m.metadata.at("retort.arch"));
  EXPECT_EQ(arch["arch"], "mlp");
  EXPECT_EQ(arch["hidden"], json({32}));
  EXPECT_EQ(arch["classes"], 3);
  EXPECT_EQ(arch["input"], json({1, 28, 28}));
  EXPECT_EQ(arch["init"], "kaiming");
  EXPECT_EQ(arch["dropout"], 0.0);
  EXPECT_EQ(arch["activation"], "relu");
  EXPECT_DOUBLE_EQ(arch["normalize"]["mean"].get<double>(), 0.2860);
  EXPECT_DOUBLE_EQ(arch["normalize"]["std"].get<double>(), 0.3530);

  auto resolved = resolve_spec(spec);
  ASSERT_TRUE(resolved.ok()) << resolved.status().message();
  EXPECT_EQ(*resolved, arch);

  Model without_names = build_or_fail({{"arch", "mlp"}});
  EXPECT_EQ(without_names.metadata.count("retort.classes"), 0u);
}

bool same_weights(const Model& a, const Model& b) {
  if (a.graph.initializers.size() != b.graph.initializers.size()) return false;
  for (const auto& [name, t] : a.graph.initializers) {
    auto it = b.graph.initializers.find(name);
    if (it == b.graph.initializers.end() || it->second.shape() != t.shape() ||
        std::memcmp(it->second.raw(), t.raw(), t.nbytes()) != 0)
      return false;
  }
  return true;
}

TEST(BuildModel, SeedsAreReproducibleAndPerLayer) {
  const json spec = {{"arch", "cnn"}, {"blocks", {{{"conv", 8}, {"pool", 2}, {"bn", true}}}}};
  EXPECT_TRUE(same_weights(build_or_fail(spec, 3), build_or_fail(spec, 3)));
  EXPECT_FALSE(same_weights(build_or_fail(spec, 3), build_or_fail(spec, 4)));

  // Rebuilding from the resolved spec in the metadata gives the same model.
  Model original = build_or_fail(spec, 3);
  EXPECT_TRUE(
      same_weights(original, build_or_fail(json::parse(original.metadata.at("retort.arch")), 3)));

  // Each weight has its own stream: changing a later layer keeps the earlier ones.
  Model a = build_or_fail({{"arch", "mlp"}, {"hidden", {64, 32}}}, 9);
  Model b = build_or_fail({{"arch", "mlp"}, {"hidden", {64, 48}}}, 9);
  const Tensor& wa = a.graph.initializers.at("fc1.weight");
  const Tensor& wb = b.graph.initializers.at("fc1.weight");
  EXPECT_EQ(std::memcmp(wa.raw(), wb.raw(), wa.nbytes()), 0);
}

TEST(BuildModel, InitializersFollowConventions) {
  Model m = build_or_fail(
      {{"arch", "cnn"}, {"blocks", {{{"conv", 8}, {"bn", true}}}}, {"fc", json::array()}}, 1);
  for (float v : m.graph.initializers.at("conv1.bn.scale").span<float>()) EXPECT_EQ(v, 1.0f);
  for (float v : m.graph.initializers.at("conv1.bn.bias").span<float>()) EXPECT_EQ(v, 0.0f);
  for (float v : m.graph.initializers.at("conv1.bn.mean").span<float>()) EXPECT_EQ(v, 0.0f);
  for (float v : m.graph.initializers.at("conv1.bn.var").span<float>()) EXPECT_EQ(v, 1.0f);
  for (float v : m.graph.initializers.at("fc1.bias").span<float>()) EXPECT_EQ(v, 0.0f);
  EXPECT_FALSE(m.graph.is_initializer("conv1.bias")) << "no conv bias before a BatchNormalization";
  EXPECT_GT(m.nonzero_parameters(), 8 * 9 - 5);

  // Xavier uniform stays within its bound.
  Model x = build_or_fail({{"arch", "mlp"}, {"hidden", {128}}, {"init", "xavier"}}, 1);
  const double bound = std::sqrt(6.0 / (784 + 128));
  for (float v : x.graph.initializers.at("fc1.weight").span<float>())
    ASSERT_LE(std::fabs(v), bound);
}

TEST(BuildModel, CnnNodeSequenceAndAttributes) {
  Model m = build_or_fail(
      {{"arch", "cnn"},
       {"blocks",
        {{{"conv", 8}, {"bn", true}, {"pool", 2}}, {{"conv", 4}, {"kernel", 5}, {"pad", "valid"}}}},
       {"fc", {32}}});
  EXPECT_EQ(op_types(m), (Strings{"Sub", "Div", "Conv", "BatchNormalization", "Relu", "MaxPool",
                                  "Conv", "Relu", "Flatten", "Gemm", "Relu", "Gemm"}));
  EXPECT_EQ(node_names(m),
            (Strings{"normalize.sub", "normalize.div", "conv1", "conv1.bn", "conv1.relu",
                     "conv1.pool", "conv2", "conv2.relu", "flatten", "fc1", "fc1.relu", "fc2"}));
  const Node* conv1 = find_node(m, "conv1");
  ASSERT_NE(conv1, nullptr);
  EXPECT_EQ(conv1->inputs, (Strings{"normalize.div", "conv1.weight"}));
  EXPECT_EQ(conv1->attr_ints("kernel_shape"), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(conv1->attr_ints("pads"), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(conv1->attr_ints("strides"), (std::vector<int64_t>{1, 1}));
  const Node* conv2 = find_node(m, "conv2");
  ASSERT_NE(conv2, nullptr);
  EXPECT_EQ(conv2->inputs, (Strings{"conv1.pool", "conv2.weight", "conv2.bias"}));
  EXPECT_EQ(conv2->attr_ints("pads"), (std::vector<int64_t>{0, 0, 0, 0}));
  const Node* bn = find_node(m, "conv1.bn");
  ASSERT_NE(bn, nullptr);
  EXPECT_EQ(bn->inputs,
            (Strings{"conv1", "conv1.bn.scale", "conv1.bn.bias", "conv1.bn.mean", "conv1.bn.var"}));
  const Node* pool = find_node(m, "conv1.pool");
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->attr_ints("kernel_shape"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(pool->attr_ints("strides"), (std::vector<int64_t>{2, 2}));
  // 28 -> pool 14 -> valid 5x5 conv 10: fc1 sees 4*10*10 features.
  EXPECT_EQ(m.graph.initializers.at("fc1.weight").shape(), (Shape{32, 400}));
  // conv1 8*9 + bn 4*8, conv2 4*8*25+4, fc1 400*32+32, fc2 32*10+10, normalisation 2.
  EXPECT_EQ(m.parameter_count(), learnable_parameters(m));
}

TEST(BuildModel, CnnDefaultsParameterCount) {
  Model m = build_or_fail({{"arch", "cnn"}});
  // conv1 32*9+32, conv2 64*32*9+64, fc1 (64*7*7)*128+128, fc2 128*10+10
  EXPECT_EQ(learnable_parameters(m), 320 + 18'496 + 401'536 + 1'290);
  EXPECT_EQ(m.parameter_count(), learnable_parameters(m));
}

TEST(BuildModel, StridedSamePaddingGivesCeilOutput) {
  Model m = build_or_fail(
      {{"arch", "cnn"}, {"blocks", {{{"conv", 4}, {"stride", 2}}}}, {"fc", json::array()}});
  const Node* conv1 = find_node(m, "conv1");
  ASSERT_NE(conv1, nullptr);
  // 28 with a 3x3 kernel and stride 2: 14 outputs need 1 pixel of padding, at the end.
  EXPECT_EQ(conv1->attr_ints("pads"), (std::vector<int64_t>{0, 0, 1, 1}));
  EXPECT_EQ(m.graph.initializers.at("fc1.weight").shape(), (Shape{10, 4 * 14 * 14}));
}

TEST(BuildModel, Lenet5ParameterCountAndShapes) {
  Model m = build_or_fail({{"arch", "lenet5"}});
  // conv1 6*25+6, conv2 16*6*25+16, fc1 400*120+120, fc2 120*84+84, fc3 84*10+10
  EXPECT_EQ(learnable_parameters(m), 61'706);
  EXPECT_EQ(m.parameter_count(), learnable_parameters(m));
  EXPECT_EQ(find_node(m, "conv1")->attr_ints("pads"), (std::vector<int64_t>{2, 2, 2, 2}));
  EXPECT_EQ(find_node(m, "conv2")->attr_ints("pads"), (std::vector<int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(m.graph.initializers.at("fc1.weight").shape(), (Shape{120, 400}));
  EXPECT_EQ(m.graph.initializers.at("fc3.weight").shape(), (Shape{10, 84}));
}

TEST(BuildModel, ResnetParameterCounts) {
  // ResNet-20 on CIFAR: the 272,474 learnable parameters of He et al. (0.27M).
  Model r20 = build_or_fail({{"arch", "resnet"}, {"depth", 20}, {"input", {3, 32, 32}}});
  EXPECT_EQ(learnable_parameters(r20), 272'474);
  // convs 270,256 + bn 4*784 + fc 650 + normalisation 6.
  EXPECT_EQ(r20.parameter_count(), learnable_parameters(r20));

  // ResNet-8 by hand: stem 16*3*9; block1 2*16*16*9; block2 32*16*9 + 32*32*9 + 1x1 32*16;
  // block3 64*32*9 + 64*64*9 + 1x1 64*32; BN channels 16+32+96+192 = 336; fc 64*10+10.
  Model r8 = build_or_fail({{"arch", "resnet"}, {"depth", 8}, {"input", {3, 32, 32}}});
  const int64_t convs = 432 + 4'608 + 4'608 + 9'216 + 512 + 18'432 + 36'864 + 2'048;
  EXPECT_EQ(learnable_parameters(r8), convs + 2 * 336 + 650);
  EXPECT_EQ(r8.parameter_count(), learnable_parameters(r8));
}

TEST(BuildModel, ResnetBlockStructure) {
  Model m = build_or_fail({{"arch", "resnet"}, {"depth", 8}, {"width", 4}});
  EXPECT_EQ(node_names(m), (Strings{"normalize.sub",
                                    "normalize.div",
                                    "stem.conv",
                                    "stem.bn",
                                    "stem.relu",
                                    "block1.conv1",
                                    "block1.bn1",
                                    "block1.relu1",
                                    "block1.conv2",
                                    "block1.bn2",
                                    "block1.add",
                                    "block1.relu",
                                    "block2.conv1",
                                    "block2.bn1",
                                    "block2.relu1",
                                    "block2.conv2",
                                    "block2.bn2",
                                    "block2.shortcut.conv",
                                    "block2.shortcut.bn",
                                    "block2.add",
                                    "block2.relu",
                                    "block3.conv1",
                                    "block3.bn1",
                                    "block3.relu1",
                                    "block3.conv2",
                                    "block3.bn2",
                                    "block3.shortcut.conv",
                                    "block3.shortcut.bn",
                                    "block3.add",
                                    "block3.relu",
                                    "pool",
                                    "flatten",
                                    "fc"}));
  EXPECT_EQ(find_node(m, "block1.add")->inputs, (Strings{"block1.bn2", "stem.relu"}));
  EXPECT_EQ(find_node(m, "block2.add")->inputs, (Strings{"block2.bn2", "block2.shortcut.bn"}));
  EXPECT_EQ(find_node(m, "block2.conv1")->attr_ints("strides"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(find_node(m, "block2.shortcut.conv")->attr_ints("kernel_shape"),
            (std::vector<int64_t>{1, 1}));
  EXPECT_TRUE(m.graph.is_initializer("block1.bn1.scale"));
  EXPECT_EQ(m.graph.initializers.at("block3.conv2.weight").shape(), (Shape{16, 16, 3, 3}));
  EXPECT_EQ(m.graph.initializers.at("fc.weight").shape(), (Shape{10, 16}));

  Model r14 = build_or_fail({{"arch", "resnet"}, {"depth", 14}});
  EXPECT_NE(find_node(r14, "block6.relu"), nullptr);
  EXPECT_EQ(find_node(r14, "block7.relu"), nullptr);
}

TEST(BuildModel, PlainCnnScheduleFor28x28) {
  Model d4 = build_or_fail({{"arch", "plain-cnn"}, {"depth", 4}});
  // conv 32*9, 32*32*9, 64*32*9, 64*64*9; bn 4*(32+32+64+64); fc 64*10+10; normalisation 2.
  EXPECT_EQ(d4.parameter_count(), learnable_parameters(d4));
  EXPECT_EQ(learnable_parameters(d4), 288 + 9'216 + 18'432 + 36'864 + 384 + 650);

  Model d10 = build_or_fail({{"arch", "plain-cnn"}, {"depth", 10}});
  Strings pools;
  for (const Node& n : d10.graph.nodes)
    if (n.op_type == "MaxPool") pools.push_back(n.name);
  EXPECT_EQ(pools, (Strings{"conv2.pool", "conv4.pool", "conv6.pool"}));  // 28 -> 14 -> 7 -> 3
  EXPECT_EQ(d10.graph.initializers.at("conv10.weight").shape(), (Shape{128, 128, 3, 3}));
  // convs 288 + 9216 + 18432 + 36864 + 73728 + 5 * 147456; bn 4 * 960; fc 1290; norm 2.
  EXPECT_EQ(d10.parameter_count(), learnable_parameters(d10));

  for (int depth : {2, 6, 8}) {
    Model m = build_or_fail({{"arch", "plain-cnn"}, {"depth", depth}});
    int convs = 0;
    for (const Node& n : m.graph.nodes) convs += n.op_type == "Conv";
    EXPECT_EQ(convs, depth);
    EXPECT_EQ(m.graph.nodes.back().outputs, (Strings{"logits"}));
  }

  Model no_bn = build_or_fail({{"arch", "plain-cnn"}, {"depth", 2}, {"bn", false}});
  EXPECT_TRUE(no_bn.graph.is_initializer("conv1.bias"));
  EXPECT_EQ(find_node(no_bn, "conv1.bn"), nullptr);
}

TEST(BuildModel, EveryArchitectureIsTopologicallySortedAndNamesAreUnique) {
  for (const std::string& arch : known_architectures()) {
    Model m = build_or_fail({{"arch", arch}});
    std::set<std::string> names;
    for (const Node& n : m.graph.nodes) EXPECT_TRUE(names.insert(n.name).second) << n.name;
    Strings before = node_names(m);
    ASSERT_TRUE(m.graph.sort_topologically().ok()) << arch;
    EXPECT_EQ(node_names(m), before) << arch << " is built in topological order";
    EXPECT_EQ(m.graph.name, arch);
  }
}

}  // namespace
}  // namespace retort::arch
