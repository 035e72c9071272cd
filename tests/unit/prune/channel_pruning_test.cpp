#include "retort/prune/channel_pruning.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "retort/arch/build_model.h"
#include "retort/arch/graph_builder.h"
#include "retort/engine/flops.h"
#include "retort/engine/plan.h"
#include "retort/graph/onnx_io.h"

namespace retort::prune {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

Model build(const json& spec, uint64_t seed = 1) {
  auto m = arch::build_model(spec, seed);
  EXPECT_TRUE(m.ok()) << spec.dump() << ": " << m.status().message();
  return m.ok() ? std::move(m).value() : Model{};
}

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "\"" << text << "\"\n  does not contain \"" << part << "\"";
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Builders start biases and batch-norm statistics at 0/1: make them random so that the
// surgery has something to get wrong. The test owns the model, so in-place writes are fine.
void randomize_statistics(Model& model, uint64_t seed = 7) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  for (auto& [name, t] : model.graph.initializers) {
    if (t.dtype() != DType::kFloat32 || name.rfind("normalize.", 0) == 0) continue;
    if (ends_with(name, ".var")) {
      for (float& v : t.span<float>()) v = 0.5f + (u(rng) + 0.5f);
    } else if (ends_with(name, ".bias") || ends_with(name, ".mean")) {
      for (float& v : t.span<float>()) v = u(rng);
    } else if (ends_with(name, ".scale")) {
      for (float& v : t.span<float>()) v = 1.0f + u(rng);
    }
  }
}

const Node* find_node(const Model& model, const std::string& name) {
  for (const Node& n : model.graph.nodes)
    if (n.name == name) return &n;
  return nullptr;
}

const Node* reader_of(const Model& model, const std::string& value, const std::string& op) {
  for (const Node& n : model.graph.nodes)
    if (n.op_type == op && !n.inputs.empty() && n.inputs[0] == value) return &n;
  return nullptr;
}

// Zeroes `axis` entries `channels` of an initializer (in place: the test's own model).
void zero_entries(Tensor& t, int axis, const std::vector<int64_t>& channels) {
  int64_t outer = 1, after = 1;
  for (int d = 0; d < axis; ++d) outer *= t.dim(d);
  for (size_t d = axis + 1; d < t.rank(); ++d) after *= t.dim(d);
  const int64_t extent = t.dim(axis);
  float* data = t.data<float>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c : channels) std::fill_n(data + (o * extent + c) * after, after, 0.0f);
}

// Makes the output of `channels` of every layer of the group exactly 0 (after its batch norm).
void zero_channels(Model& model, const ChannelGroup& group, const std::vector<int64_t>& channels) {
  auto& inits = model.graph.initializers;
  for (const std::string& layer : group.layers) {
    const Node* n = find_node(model, layer);
    ASSERT_NE(n, nullptr) << layer;
    int axis = 0;
    if (n->op_type == "Gemm") axis = n->attr_int("transB", 0) ? 0 : 1;
    if (n->op_type == "MatMul") axis = 1;
    zero_entries(inits.at(n->inputs[1]), axis, channels);
    if (n->has_input(2))
      zero_entries(inits.at(n->inputs[2]), inits.at(n->inputs[2]).rank() - 1, channels);
    // A MatMul's bias is a following Add of a constant.
    if (const Node* add = reader_of(model, n->outputs[0], "Add");
        add && add->has_input(1) && inits.count(add->inputs[1]))
      zero_entries(inits.at(add->inputs[1]), inits.at(add->inputs[1]).rank() - 1, channels);
    if (const Node* bn = reader_of(model, n->outputs[0], "BatchNormalization")) {
      zero_entries(inits.at(bn->inputs[1]), 0, channels);
      zero_entries(inits.at(bn->inputs[2]), 0, channels);
    }
  }
}

std::vector<float> random_input(const Model& model, int64_t batch, uint64_t seed = 3) {
  const Shape shape = model.graph.inputs.at(0).concrete_shape(batch);
  std::vector<float> x(static_cast<size_t>(shape_numel(shape)));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (float& v : x) v = u(rng);
  return x;
}

std::vector<float> run(Model& model, const std::vector<float>& input, int64_t batch) {
  engine::PlanOptions options;
  options.batch = batch;
  auto plan = engine::Plan::compile(model, options);
  EXPECT_TRUE(plan.ok()) << plan.status().message();
  if (!plan.ok()) return {};
  engine::View in = (*plan)->input(0);
  EXPECT_EQ(in.numel(), static_cast<int64_t>(input.size()));
  std::copy(input.begin(), input.end(), in.data);
  (*plan)->forward(false);
  auto out = (*plan)->output(0).span();
  return {out.begin(), out.end()};
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float d = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

std::vector<ChannelGroup> groups_of(const Model& model) {
  auto groups = find_channel_groups(model);
  EXPECT_TRUE(groups.ok()) << groups.status().message();
  return groups.ok() ? *groups : std::vector<ChannelGroup>{};
}

const ChannelGroup* group_with(const std::vector<ChannelGroup>& groups, const std::string& layer) {
  for (const ChannelGroup& g : groups)
    if (std::find(g.layers.begin(), g.layers.end(), layer) != g.layers.end()) return &g;
  return nullptr;
}

// Removes about 40% of every prunable group's channels (a fixed, scattered pattern) after zeroing
// them, and checks that the outputs do not change. Returns the pruned model.
Model check_exact_surgery(Model model, int64_t batch = 4) {
  randomize_statistics(model);
  const auto groups = groups_of(model);
  std::map<std::string, std::vector<int64_t>> keep;
  for (const ChannelGroup& g : groups) {
    if (!g.prunable) continue;
    std::vector<int64_t> removed, kept;
    for (int64_t c = 0; c < g.channels; ++c) ((c * 7 + 3) % 5 < 2 ? removed : kept).push_back(c);
    zero_channels(model, g, removed);
    keep[g.id] = kept;
  }
  EXPECT_FALSE(keep.empty());
  const auto input = random_input(model, batch);
  const auto before = run(model, input, batch);
  auto result = remove_channels(model, keep);
  EXPECT_TRUE(result.ok()) << result.status().message();
  if (!result.ok()) return {};
  EXPECT_LT(result->model.parameter_count(), model.parameter_count());
  for (const ChannelChange& c : result->changes) EXPECT_LT(c.after, c.before) << c.group;
  const auto after = run(result->model, input, batch);
  float scale = 0;
  for (float v : before) scale = std::max(scale, std::fabs(v));
  EXPECT_GT(scale, 0.0f);
  EXPECT_LE(max_abs_diff(before, after), 1e-5f * std::max(1.0f, scale));
  return std::move(result->model);
}

const json kCnnSpec = {{"arch", "cnn"},
                       {"blocks", {{{"conv", 8}, {"pool", 2}}, {{"conv", 16}, {"pool", 2}}}},
                       {"fc", {32}}};

json cnn_with_bn() {
  json spec = kCnnSpec;
  for (auto& b : spec["blocks"]) b["bn"] = true;
  return spec;
}

TEST(ChannelPruningSurgery, MlpIsExact) {
  Model m = check_exact_surgery(build({{"arch", "mlp"}, {"hidden", {64, 32}}, {"dropout", 0.2}}));
  EXPECT_EQ(m.graph.initializers.at("fc1.weight").shape(), (Shape{39, 784}));
  EXPECT_EQ(m.graph.initializers.at("fc2.weight").shape(), (Shape{19, 39}));
  EXPECT_EQ(m.graph.initializers.at("fc3.weight").shape(), (Shape{10, 19}));
}

TEST(ChannelPruningSurgery, CnnWithoutBatchNormIsExact) {
  Model m = check_exact_surgery(build(kCnnSpec));
  EXPECT_EQ(m.graph.initializers.at("conv1.weight").shape(), (Shape{5, 1, 3, 3}));
  EXPECT_EQ(m.graph.initializers.at("conv1.bias").shape(), (Shape{5}));
  EXPECT_EQ(m.graph.initializers.at("conv2.weight").shape(), (Shape{10, 5, 3, 3}));
  // Flatten of [10, 7, 7] into fc1: 49 columns per kept channel.
  EXPECT_EQ(m.graph.initializers.at("fc1.weight").shape(), (Shape{19, 10 * 49}));
}

TEST(ChannelPruningSurgery, CnnWithBatchNormIsExact) {
  Model m = check_exact_surgery(build(cnn_with_bn()));
  for (const char* p : {"scale", "bias", "mean", "var"})
    EXPECT_EQ(m.graph.initializers.at(std::string("conv2.bn.") + p).shape(), (Shape{10}));
}

TEST(ChannelPruningSurgery, ConvIntoFlattenIntoGemmIsExact) {
  // No pooling: conv1's [6, 28, 28] output goes straight into Flatten and fc1.
  Model m = check_exact_surgery(
      build({{"arch", "cnn"}, {"blocks", {{{"conv", 6}, {"pad", "valid"}}}}, {"fc", {16}}}));
  EXPECT_EQ(m.graph.initializers.at("fc1.weight").shape(), (Shape{10, 4 * 26 * 26}));
}

TEST(ChannelPruningSurgery, ReshapeIntoGemmIsExactAndItsShapeFollows) {
  Model model = build(cnn_with_bn());
  // Replace Flatten by Reshape to an explicit [-1, 16 * 7 * 7].
  for (Node& n : model.graph.nodes)
    if (n.op_type == "Flatten") {
      n.op_type = "Reshape";
      n.attributes.clear();
      n.inputs.push_back("flatten.shape");
    }
  model.graph.initializers["flatten.shape"] = Tensor::from_vector<int64_t>({2}, {-1, 16 * 49});
  Model m = check_exact_surgery(model);
  EXPECT_EQ(m.graph.initializers.at("flatten.shape").to_int64_vector(),
            (std::vector<int64_t>{-1, 10 * 49}));
}

TEST(ChannelPruningSurgery, Lenet5IsExact) {
  Model m = check_exact_surgery(build({{"arch", "lenet5"}}));
  EXPECT_EQ(m.graph.initializers.at("conv2.weight").shape()[1], 4);  // 6 -> 4 channels
}

TEST(ChannelPruningSurgery, ResnetWithIdentityAndProjectionShortcutsIsExact) {
  check_exact_surgery(build({{"arch", "resnet"}, {"depth", 14}, {"width", 8}}), 2);
}

TEST(ChannelPruningSurgery, MatMulWithWeightInitializerIsExact) {
  // The mlp with fc1 rewritten as MatMul (W^T) + Add (bias).
  Model model = build({{"arch", "mlp"}, {"hidden", {24, 12}}});
  for (Node& n : model.graph.nodes)
    if (n.name == "fc1") {
      const Tensor w = model.graph.initializers.at("fc1.weight");
      Tensor wt(DType::kFloat32, {w.dim(1), w.dim(0)});
      for (int64_t i = 0; i < w.dim(0); ++i)
        for (int64_t j = 0; j < w.dim(1); ++j)
          wt.data<float>()[j * w.dim(0) + i] = w.data<float>()[i * w.dim(1) + j];
      model.graph.initializers["fc1.weight"] = wt;
      n.op_type = "MatMul";
      n.attributes.clear();
      n.inputs = {n.inputs[0], "fc1.weight"};
      n.outputs = {"fc1.mm"};
      Node add;
      add.name = "fc1.add";
      add.op_type = "Add";
      add.inputs = {"fc1.mm", "fc1.bias"};
      add.outputs = {"fc1"};
      model.graph.nodes.push_back(add);
      break;
    }
  ASSERT_TRUE(model.graph.sort_topologically().ok());
  const auto groups = groups_of(model);
  ASSERT_NE(group_with(groups, "fc1"), nullptr);
  EXPECT_TRUE(group_with(groups, "fc1")->prunable) << group_with(groups, "fc1")->why_not;
  Model m = check_exact_surgery(model);
  EXPECT_EQ(m.graph.initializers.at("fc1.weight").shape(), (Shape{784, 15}));
  EXPECT_EQ(m.graph.initializers.at("fc1.bias").shape(), (Shape{15}));
}

TEST(ChannelPruningSurgery, DepthwiseConvFollowsItsProducer) {
  Model model;
  arch::GraphBuilder g(model, engine::InitKind::kKaimingNormal, 5);
  std::string x = g.input("input", {2, 12, 12});
  arch::ConvOptions o;
  o.out_channels = 8;
  o.pads = {1, 1, 1, 1};
  x = *g.conv("conv1", x, o);
  x = g.relu("conv1.relu", x);
  x = *g.conv("dw", x, o);  // made depthwise below
  x = g.batch_norm("dw.bn", x);
  x = g.global_average_pool("pool", x);
  x = g.flatten("flatten", x);
  g.gemm("fc", x, 3, "logits");
  g.output("logits");
  for (Node& n : model.graph.nodes)
    if (n.name == "dw") n.attributes["group"] = Attribute::of_int(8);
  Tensor dw(DType::kFloat32, {8, 1, 3, 3});
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  for (float& v : dw.span<float>()) v = normal(rng);
  model.graph.initializers["dw.weight"] = dw;

  const auto groups = groups_of(model);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].layers, (std::vector<std::string>{"conv1"}));
  EXPECT_TRUE(groups[0].prunable) << groups[0].why_not;
  // conv1's zeroed channels stay 0 through the depthwise conv only without its bias, and through
  // dw.bn only with scale and bias 0: zero those too.
  Model zeroed = model;
  randomize_statistics(zeroed);
  const std::vector<int64_t> removed{1, 4, 5}, kept{0, 2, 3, 6, 7};
  zero_channels(zeroed, groups[0], removed);
  zero_entries(zeroed.graph.initializers.at("dw.bias"), 0, removed);
  zero_entries(zeroed.graph.initializers.at("dw.bn.scale"), 0, removed);
  zero_entries(zeroed.graph.initializers.at("dw.bn.bias"), 0, removed);
  const auto input = random_input(zeroed, 3);
  const auto before = run(zeroed, input, 3);
  auto result = remove_channels(zeroed, {{"conv1", kept}});
  ASSERT_TRUE(result.ok()) << result.status().message();
  const Model& m = result->model;
  EXPECT_EQ(m.graph.initializers.at("dw.weight").shape(), (Shape{5, 1, 3, 3}));
  EXPECT_EQ(find_node(m, "dw")->attr_int("group", 0), 5);
  EXPECT_EQ(m.graph.initializers.at("fc.weight").shape(), (Shape{3, 5}));
  EXPECT_LE(max_abs_diff(before, run(result->model, input, 3)), 1e-5f);
}

TEST(ChannelPruningGroups, CnnGroupsAndTheLogitsLayer) {
  const auto groups = groups_of(build(cnn_with_bn()));
  ASSERT_EQ(groups.size(), 4u);
  EXPECT_EQ(groups[0].id, "conv1");
  EXPECT_EQ(groups[0].channels, 8);
  EXPECT_EQ(groups[1].id, "conv2");
  EXPECT_EQ(groups[2].id, "fc1");
  EXPECT_TRUE(groups[0].prunable && groups[1].prunable && groups[2].prunable);
  EXPECT_EQ(groups[3].id, "fc2");
  EXPECT_FALSE(groups[3].prunable);
  EXPECT_TRUE(contains(groups[3].why_not, "graph output 'logits'"));
}

TEST(ChannelPruningGroups, ResidualChannelsAreTiedAndPrunedTogether) {
  Model model = build({{"arch", "resnet"}, {"depth", 14}, {"width", 8}});
  randomize_statistics(model);
  const auto groups = groups_of(model);
  // Identity shortcuts tie the stem to every block's second conv of stage 1.
  const ChannelGroup* stage1 = group_with(groups, "stem.conv");
  ASSERT_NE(stage1, nullptr);
  EXPECT_EQ(stage1->layers,
            (std::vector<std::string>{"stem.conv", "block1.conv2", "block2.conv2"}));
  // A projection shortcut is tied to the block's second conv (and to later identity blocks).
  const ChannelGroup* stage2 = group_with(groups, "block3.conv2");
  ASSERT_NE(stage2, nullptr);
  EXPECT_EQ(stage2->layers,
            (std::vector<std::string>{"block3.conv2", "block3.shortcut.conv", "block4.conv2"}));
  EXPECT_TRUE(stage1->prunable && stage2->prunable);
  // Inner convs are on their own.
  ASSERT_NE(group_with(groups, "block3.conv1"), nullptr);
  EXPECT_EQ(group_with(groups, "block3.conv1")->layers.size(), 1u);

  StructuredOptions options;
  options.ratio = 0.5f;
  auto result = prune_channels(model, options);
  ASSERT_TRUE(result.ok()) << result.status().message();
  const Model& m = result->model;
  // Every tied layer keeps the same original channels: find them through the BN means
  // (distinct random values).
  auto kept_indices = [&](const std::string& bn) {
    const auto orig = model.graph.initializers.at(bn + ".mean").span<float>();
    const auto now = m.graph.initializers.at(bn + ".mean").span<float>();
    std::vector<int64_t> idx;
    for (float v : now) idx.push_back(std::find(orig.begin(), orig.end(), v) - orig.begin());
    return idx;
  };
  const auto stem = kept_indices("stem.bn");
  EXPECT_EQ(stem.size(), 4u);
  EXPECT_EQ(kept_indices("block1.bn2"), stem);
  EXPECT_EQ(kept_indices("block2.bn2"), stem);
  const auto proj = kept_indices("block3.bn2");
  EXPECT_EQ(proj.size(), 8u);
  EXPECT_EQ(kept_indices("block3.shortcut.bn"), proj);
  EXPECT_EQ(kept_indices("block4.bn2"), proj);
  // The adds' operands keep matching shapes.
  Model copy = m;
  engine::PlanOptions po;
  po.batch = 1;
  auto plan = engine::Plan::compile(copy, po);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  for (const Node& n : m.graph.nodes) {
    if (n.op_type != "Add") continue;
    auto a = (*plan)->value(n.inputs[0]);
    auto b = (*plan)->value(n.inputs[1]);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->shape, b->shape) << n.name;
  }
}

TEST(ChannelPruningGroups, UnhandledConsumersMakeAGroupUnprunable) {
  {  // Concat
    Model model = build(kCnnSpec);
    for (Node& n : model.graph.nodes)
      if (n.name == "conv2.pool") {
        n.outputs = {"conv2.pool.raw"};
        Node cat;
        cat.name = "cat";
        cat.op_type = "Concat";
        cat.inputs = {"conv2.pool.raw", "conv2.pool.raw"};
        cat.outputs = {"conv2.pool"};
        cat.attributes["axis"] = Attribute::of_int(1);
        model.graph.nodes.push_back(cat);
        break;
      }
    for (Node& n : model.graph.nodes)
      if (n.name == "fc1") {
        Tensor w(DType::kFloat32, {32, 32 * 49});
        model.graph.initializers["fc1.weight"] = w;
      }
    ASSERT_TRUE(model.graph.sort_topologically().ok());
    const auto groups = groups_of(model);
    const ChannelGroup* g = group_with(groups, "conv2");
    ASSERT_NE(g, nullptr);
    EXPECT_FALSE(g->prunable);
    EXPECT_TRUE(contains(g->why_not, "node 'cat' (Concat)")) << g->why_not;
    EXPECT_TRUE(group_with(groups, "conv1")->prunable);
  }
  {  // Softmax over the channels
    Model model = build({{"arch", "mlp"}, {"hidden", {16}}});
    for (Node& n : model.graph.nodes)
      if (n.name == "fc1.relu") n.op_type = "Softmax";
    const auto groups = groups_of(model);
    const ChannelGroup* g = group_with(groups, "fc1");
    ASSERT_NE(g, nullptr);
    EXPECT_FALSE(g->prunable);
    EXPECT_TRUE(contains(g->why_not, "node 'fc1.relu' (Softmax) normalises over its channels"))
        << g->why_not;
  }
}

TEST(ChannelPruningCriteria, L1L2AndBatchNormScalePickTheExpectedChannels) {
  Model model;
  arch::GraphBuilder g(model, engine::InitKind::kKaimingNormal, 1);
  std::string x = g.input("input", {1, 2, 2});
  arch::ConvOptions o;
  o.out_channels = 4;
  o.kernel = 2;
  o.bias = false;
  x = *g.conv("conv", x, o);
  x = g.batch_norm("conv.bn", x);
  x = g.relu("conv.relu", x);
  x = g.flatten("flatten", x);
  g.gemm("fc", x, 3, "logits");
  g.output("logits");
  // Per channel: L1 / L2 = 2 / 2, 3.6 / 1.8, 12 / 6, 3 / 2.12.
  model.graph.initializers["conv.weight"] = Tensor::from_vector<float>(
      {4, 1, 2, 2}, {2, 0, 0, 0, 0.9f, -0.9f, 0.9f, 0.9f, 3, 3, -3, 3, 1.5f, 1.5f, 0, 0});
  model.graph.initializers["conv.bn.scale"] =
      Tensor::from_vector<float>({4}, {1.0f, -2.0f, 0.1f, 0.5f});

  auto removed = [&](ChannelCriterion criterion, float ratio) {
    StructuredOptions options;
    options.criterion = criterion;
    options.ratio = ratio;
    auto result = prune_channels(model, options);
    EXPECT_TRUE(result.ok()) << result.status().message();
    std::set<int64_t> gone{0, 1, 2, 3};
    if (!result.ok()) return gone;
    const auto orig = model.graph.initializers.at("conv.weight").span<float>();
    const Tensor& w = result->model.graph.initializers.at("conv.weight");
    for (int64_t k = 0; k < w.dim(0); ++k)
      for (int64_t c = 0; c < 4; ++c)
        if (std::equal(orig.begin() + c * 4, orig.begin() + c * 4 + 4, w.data<float>() + k * 4))
          gone.erase(c);
    return gone;
  };
  EXPECT_EQ(removed(ChannelCriterion::kL1, 0.25f), (std::set<int64_t>{0}));
  EXPECT_EQ(removed(ChannelCriterion::kL2, 0.25f), (std::set<int64_t>{1}));
  EXPECT_EQ(removed(ChannelCriterion::kBnScale, 0.25f), (std::set<int64_t>{2}));
  EXPECT_EQ(removed(ChannelCriterion::kL1, 0.5f), (std::set<int64_t>{0, 3}));
  EXPECT_EQ(removed(ChannelCriterion::kL2, 0.5f), (std::set<int64_t>{0, 1}));
  EXPECT_EQ(removed(ChannelCriterion::kBnScale, 0.5f), (std::set<int64_t>{2, 3}));
}

TEST(ChannelPruningFlops, HalfTheFlopsTarget) {
  Model model = build(
      {{"arch", "cnn"},
       {"blocks",
        {{{"conv", 32}, {"pool", 2}, {"bn", true}}, {{"conv", 64}, {"pool", 2}, {"bn", true}}}},
       {"fc", {128}}});
  auto base = engine::count_compute(model);
  ASSERT_TRUE(base.ok()) << base.status().message();
  StructuredOptions options;
  options.target_flops_fraction = 0.5;
  auto result = prune_channels(model, options);
  ASSERT_TRUE(result.ok()) << result.status().message();
  auto after = engine::count_compute(result->model);
  ASSERT_TRUE(after.ok()) << after.status().message();
  const double fraction = static_cast<double>(after->flops) / static_cast<double>(base->flops);
  EXPECT_LE(fraction, 0.5);
  EXPECT_GE(fraction, 0.4);
  ASSERT_EQ(result->changes.size(), 3u);  // conv1, conv2, fc1
  for (const ChannelChange& c : result->changes) EXPECT_LT(c.after, c.before) << c.group;

  // Rounding kept channels to a multiple of 8 still meets the target.
  options.channel_multiple = 8;
  auto rounded = prune_channels(model, options);
  ASSERT_TRUE(rounded.ok()) << rounded.status().message();
  for (const ChannelChange& c : rounded->changes) EXPECT_EQ(c.after % 8, 0) << c.group;
  auto rounded_cost = engine::count_compute(rounded->model);
  ASSERT_TRUE(rounded_cost.ok());
  EXPECT_LE(rounded_cost->flops, base->flops / 2);
}

TEST(ChannelPruningExport, PrunedModelIsSmallerOnDiskAndPassesTheChecker) {
  const fs::path dir =
      fs::temp_directory_path() / ("retort_channel_pruning_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  Model model = build({{"arch", "resnet"}, {"depth", 8}, {"width", 16}});
  randomize_statistics(model);
  const Tensor conv_before = model.graph.initializers.at("block1.conv1.weight").clone();
  StructuredOptions options;
  options.ratio = 0.5f;
  auto result = prune_channels(model, options);
  ASSERT_TRUE(result.ok()) << result.status().message();
  // The input model is untouched and shares no storage with the result.
  const Tensor& conv_after = model.graph.initializers.at("block1.conv1.weight");
  EXPECT_EQ(conv_after.shape(), conv_before.shape());
  EXPECT_TRUE(std::equal(conv_after.span<float>().begin(), conv_after.span<float>().end(),
                         conv_before.span<float>().begin()));
  for (const auto& [name, t] : result->model.graph.initializers) {
    if (model.graph.initializers.count(name)) {
      EXPECT_NE(t.raw(), model.graph.initializers.at(name).raw()) << name;
    }
  }

  EXPECT_LT(result->model.parameter_count(), model.parameter_count() * 0.35);
  const std::string dense = (dir / "dense.onnx").string();
  const std::string pruned = (dir / "pruned.onnx").string();
  ASSERT_TRUE(save_onnx(model, dense).ok());
  Status saved = save_onnx(result->model, pruned);  // runs onnx::checker
  ASSERT_TRUE(saved.ok()) << saved.message();
  EXPECT_LT(fs::file_size(pruned), fs::file_size(dense) * 0.4);
  auto reloaded = load_onnx(pruned);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status().message();
  EXPECT_EQ(reloaded->parameter_count(), result->model.parameter_count());
  const auto input = random_input(model, 2);
  EXPECT_LE(max_abs_diff(run(result->model, input, 2), run(*reloaded, input, 2)), 0.0f);
  fs::remove_all(dir);
}

TEST(ChannelPruningExport, ValueInfoShapesFollow) {
  // A model saved and loaded keeps annotated intermediate shapes: they must shrink with it.
  Model model = build(kCnnSpec);
  model.graph.value_infos.push_back(
      ValueInfo{"conv2",
                DType::kFloat32,
                {Dim::symbolic("N"), Dim::fixed(16), Dim::fixed(14), Dim::fixed(14)}});
  model.graph.value_infos.push_back(
      ValueInfo{"flatten", DType::kFloat32, {Dim::symbolic("N"), Dim::fixed(16 * 49)}});
  auto result = remove_channels(model, {{"conv2", {0, 3, 5}}});
  ASSERT_TRUE(result.ok()) << result.status().message();
  const auto& vis = result->model.graph.value_infos;
  EXPECT_EQ(vis[0].dims[1], Dim::fixed(3));
  EXPECT_EQ(vis[1].dims[1], Dim::fixed(3 * 49));
  auto bytes = serialize_onnx(result->model);
  EXPECT_TRUE(bytes.ok()) << bytes.status().message();
}

TEST(ChannelPruningErrors, RatioOutsideZeroOne) {
  Model model = build(kCnnSpec);
  for (float ratio : {1.0f, -0.1f, 1.5f}) {
    StructuredOptions options;
    options.ratio = ratio;
    auto result = prune_channels(model, options);
    ASSERT_FALSE(result.ok()) << ratio;
    EXPECT_EQ(result.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_TRUE(contains(result.status().message(), "must be in [0, 1)"));
    EXPECT_TRUE(contains(result.status().message(), ratio == 1.0f ? "found 1" : "found -0.1") ||
                ratio == 1.5f);
  }
  StructuredOptions options;
  options.layer_ratios["conv1"] = 1.0f;
  auto result = prune_channels(model, options);
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(contains(result.status().message(), "layer 'conv1'"));
}

TEST(ChannelPruningErrors, UnknownLayerListsTheLayersThatExist) {
  Model model = build(kCnnSpec);
  StructuredOptions options;
  options.layer_ratios["conv3"] = 0.5f;
  auto result = prune_channels(model, options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kNotFound);
  const std::string& msg = result.status().message();
  EXPECT_TRUE(contains(msg, "no layer named 'conv3'"));
  EXPECT_TRUE(contains(msg, "prunable layers: conv1, conv2, fc1"));
  // A node that exists but has no channels of its own.
  options.layer_ratios = {{"conv1.relu", 0.5f}};
  result = prune_channels(model, options);
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(contains(result.status().message(), "node 'conv1.relu' is not a layer"));
}

TEST(ChannelPruningErrors, LogitsLayerSaysWhy) {
  Model model = build(kCnnSpec);
  StructuredOptions options;
  options.layer_ratios["fc2"] = 0.5f;
  auto result = prune_channels(model, options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(contains(result.status().message(), "layer 'fc2' cannot be pruned structurally"));
  EXPECT_TRUE(contains(result.status().message(), "its output is the graph output 'logits'"));
  // remove_channels says the same.
  auto removed = remove_channels(model, {{"fc2", {0, 1}}});
  ASSERT_FALSE(removed.ok());
  EXPECT_TRUE(contains(removed.status().message(), "graph output 'logits'"));
}

TEST(ChannelPruningErrors, ModelWithoutPrunableGroup) {
  Model model;
  arch::GraphBuilder g(model, engine::InitKind::kKaimingNormal, 1);
  std::string x = g.input("input", {1, 4, 4});
  x = g.flatten("flatten", x);
  g.gemm("fc", x, 10, "logits");
  g.output("logits");
  auto result = prune_channels(model, StructuredOptions{});
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(contains(result.status().message(), "no layer whose channels can be removed"));
  EXPECT_TRUE(contains(result.status().message(), "layer 'fc': its output is the graph output"));
}

TEST(ChannelPruningErrors, BadKeepLists) {
  Model model = build(kCnnSpec);
  auto r = remove_channels(model, {{"conv9", {0}}});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.status().message(), "prunable groups: conv1, conv2, fc1"));
  r = remove_channels(model, {{"conv1", {}}});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.status().message(), "at least one channel"));
  r = remove_channels(model, {{"conv1", {3, 1}}});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.status().message(), "sorted and unique"));
  r = remove_channels(model, {{"conv1", {8}}});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.status().message(), "out of range [0, 8)"));
}

TEST(ChannelPruningErrors, UnreachableFlopsTarget) {
  Model model = build(kCnnSpec);
  StructuredOptions options;
  options.target_flops_fraction = 0.001;
  auto r = prune_channels(model, options);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.status().message(), "cannot reach"));
}

}  // namespace
}  // namespace retort::prune
