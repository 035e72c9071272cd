// Deep graphs cost what their tensors cost: evaluating a chain of thousands of small nodes
// holds the values alive at one time (PlanOptions::share_buffers), not one buffer per node, and
// sorting a chain of 100,000 nodes does not recurse once per node. No timing is asserted.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "retort/data/dataset.h"
#include "retort/engine/plan.h"
#include "retort/engine/speed.h"
#include "retort/engine/trainer.h"
#include "retort/graph/fold_constants.h"
#include "retort/graph/input_convention.h"
#include "support/test_support.h"

namespace retort::engine {
namespace {

constexpr int64_t kWidth = 16;

// x [N, 16] -> Relu -> ... -> Relu (n of them) -> y [N, 16]. With `reversed` the nodes are
// listed last to first, the order that made the recursive sort recurse once per node.
Model relu_chain(int n, bool reversed = false) {
  Model m;
  Graph& g = m.graph;
  g.inputs = {ValueInfo{"x", DType::kFloat32, {Dim::symbolic("N"), Dim::fixed(kWidth)}}};
  g.outputs = {ValueInfo{"y", DType::kFloat32, {Dim::symbolic("N"), Dim::fixed(kWidth)}}};
  g.nodes.reserve(static_cast<size_t>(n));
  std::string prev = "x";
  for (int i = 0; i < n; ++i) {
    Node node;
    node.name = "relu" + std::to_string(i);
    node.op_type = "Relu";
    node.inputs = {prev};
    node.outputs = {i + 1 == n ? std::string("y") : "r" + std::to_string(i)};
    prev = node.outputs[0];
    g.nodes.push_back(std::move(node));
  }
  if (reversed) std::reverse(g.nodes.begin(), g.nodes.end());
  return m;
}

// 4x4 one-channel images (16 pixels, the chain's width) with labels 0..15.
data::Dataset tiny_images(int64_t count) {
  data::Dataset d;
  d.images = Tensor(DType::kFloat32, {count, 1, 4, 4});
  float* p = d.images.data<float>();
  for (int64_t i = 0; i < count * kWidth; ++i) p[i] = static_cast<float>((i * 37) % 101) / 100.0f;
  for (int64_t i = 0; i < count; ++i) d.labels.push_back(static_cast<int32_t>(i % kWidth));
  d.num_classes = kWidth;
  for (int64_t c = 0; c < kWidth; ++c) d.class_names.push_back(std::to_string(c));
  d.name = "tiny";
  return d;
}

int64_t status_kib(const char* key) {
  std::ifstream in("/proc/self/status");
  const size_t key_len = std::strlen(key);
  for (std::string line; std::getline(in, line);)
    if (line.compare(0, key_len, key) == 0) return std::stoll(line.substr(key_len));
  return -1;
}

// Resets the process's peak resident size (VmHWM) to its current size (Linux 4.0 on).
bool reset_peak_memory() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.close();
  return clear.good() && status_kib("VmHWM:") <= status_kib("VmRSS:") + 64;
}

// Peak resident memory growth, in bytes, since reset_peak_memory().
int64_t peak_growth_since(int64_t rss_kib_at_reset) {
  return (status_kib("VmHWM:") - rss_kib_at_reset) * 1024;
}

bool same_bits(const float* a, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i])) return false;
  return true;
}

constexpr int kNodes = 5000;
// What each node may cost besides its values: the node, its kernel and their bookkeeping.
constexpr int64_t kPerNodeBytes = 8 << 10;
// Allocator, oneDNN and OpenMP set-up, code paged in on first use.
constexpr int64_t kSlackBytes = 48 << 20;

TEST(DeepGraph, EvaluatingAFiveThousandReluChainHoldsItsLiveValuesNotOnePerNode) {
  Model model = relu_chain(kNodes);
  ASSERT_TRUE(bake_input_convention(model, 1, 4, 4, 1.0f, {0.0f}, {1.0f}).ok());
  constexpr int64_t kBatch = 2048;
  const data::Dataset images = tiny_images(kBatch);
  const int64_t activation = kBatch * kWidth * static_cast<int64_t>(sizeof(float));  // 128 KiB
  // At most a handful of values are alive at once (the input, the one a node reads, the one it
  // writes, the logits), whatever the depth.
  const int64_t bound = 8 * activation + kNodes * kPerNodeBytes + kSlackBytes;
  ASSERT_LT(bound, kNodes * activation / 4) << "the bound would not tell one buffer per node";

  const int64_t rss_before = status_kib("VmRSS:");
  ASSERT_TRUE(reset_peak_memory()) << "cannot reset VmHWM through /proc/self/clear_refs";
  auto eval = evaluate_classifier(model, images, kBatch);
  const int64_t growth = peak_growth_since(rss_before);
  ASSERT_TRUE(eval.ok()) << eval.status().message();
  EXPECT_EQ(eval->count, kBatch);
  // ReLUs keep non-negative inputs: the logits are the pixels, so the arg-max is known.
  int64_t expected_correct = 0;
  for (int64_t i = 0; i < kBatch; ++i) {
    const float* row = images.sample(i);
    expected_correct += (std::max_element(row, row + kWidth) - row) == images.labels[i] ? 1 : 0;
  }
  EXPECT_DOUBLE_EQ(eval->accuracy, static_cast<double>(expected_correct) / kBatch);
  EXPECT_LT(growth, bound) << "peak memory grew " << (growth >> 20) << " MiB for " << kNodes
                           << " nodes of " << (activation >> 10) << " KiB values; one buffer per "
                           << "node would be " << ((kNodes * activation) >> 20) << " MiB";
}

TEST(DeepGraph, MeasuringTheSpeedOfAFiveThousandReluChainHoldsItsLiveValues) {
  Model model = relu_chain(kNodes);
  constexpr int64_t kBatch = 2048;
  const int64_t activation = kBatch * kWidth * static_cast<int64_t>(sizeof(float));
  const int64_t bound = 8 * activation + kNodes * kPerNodeBytes + kSlackBytes;
  const int64_t rss_before = status_kib("VmRSS:");
  ASSERT_TRUE(reset_peak_memory());
  auto speed = measure_speed(model, /*iterations=*/2, /*throughput_batch=*/kBatch, /*warmup=*/0);
  const int64_t growth = peak_growth_since(rss_before);
  ASSERT_TRUE(speed.ok()) << speed.status().message();
  EXPECT_GT(speed->throughput, 0.0);
  EXPECT_LT(growth, bound) << "peak memory grew " << (growth >> 20) << " MiB";
}

TEST(DeepGraph, SharedBuffersGiveTheSameOutputsAndRefuseValuesNoLongerHeld) {
  // Fan-out and fan-in: a feeds b and c, both feed the Add; d is read after forward.
  Model m;
  Graph& g = m.graph;
  g.inputs = {ValueInfo{"x", DType::kFloat32, {Dim::symbolic("N"), Dim::fixed(8)}}};
  g.outputs = {ValueInfo{"y", DType::kFloat32, {Dim::symbolic("N"), Dim::fixed(8)}}};
  auto node = [](const std::string& op, std::vector<std::string> in, const std::string& out) {
    Node n;
    n.name = out;
    n.op_type = op;
    n.inputs = std::move(in);
    n.outputs = {out};
    return n;
  };
  g.initializers["k"] = Tensor::from_vector<float>({8}, {1, -2, 3, -4, 5, -6, 7, -8});
  g.nodes = {node("Relu", {"x"}, "a"),    node("Mul", {"a", "k"}, "b"),
             node("Relu", {"a"}, "c"),    node("Add", {"b", "c"}, "d"),
             node("Relu", {"d"}, "e"),    node("Add", {"e", "a"}, "f"),
             node("Mul", {"f", "k"}, "y")};
  PlanOptions plain;
  plain.batch = 4;
  PlanOptions shared = plain;
  shared.share_buffers = true;
  shared.keep_values = {"d"};
  auto p1 = Plan::compile(m, plain);
  auto p2 = Plan::compile(m, shared);
  ASSERT_TRUE(p1.ok()) << p1.status().message();
  ASSERT_TRUE(p2.ok()) << p2.status().message();
  for (int round = 0; round < 2; ++round) {  // buffers hold the last round's values: no matter
    for (int64_t i = 0; i < 32; ++i) {
      const float v = static_cast<float>((i * 7 + int64_t{round} * 5) % 11) - 5.0f;
      (*p1)->input(0).data[i] = v;
      (*p2)->input(0).data[i] = v;
    }
    (*p1)->forward(false);
    (*p2)->forward(false);
    EXPECT_TRUE(same_bits((*p1)->output(0).data, (*p2)->output(0).data, 32));
    auto d1 = (*p1)->value("d");
    auto d2 = (*p2)->value("d");
    ASSERT_TRUE(d1.ok() && d2.ok());
    EXPECT_TRUE(same_bits(d1->data, d2->data, 32));
  }
  auto gone = (*p2)->value("b");
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(test_support::contains(gone.status().message(), "share_buffers"));
  EXPECT_TRUE(test_support::contains(gone.status().message(), "keep_values"));

  PlanOptions training = shared;
  training.backward = true;
  auto refused = Plan::compile(m, training);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(test_support::contains(refused.status().message(), "inference plans only"));
}

TEST(DeepGraph, AHundredThousandNodeChainSortsAndFoldsWithoutDeepRecursion) {
  constexpr int kLong = 100000;
  Model model = relu_chain(kLong, /*reversed=*/true);
  ASSERT_TRUE(model.graph.sort_topologically().ok());
  ASSERT_EQ(model.graph.nodes.size(), static_cast<size_t>(kLong));
  for (int i = 0; i < kLong; ++i) {
    ASSERT_EQ(model.graph.nodes[i].name, "relu" + std::to_string(i));
  }
  ASSERT_TRUE(fold_constants(model).ok());
  EXPECT_EQ(model.graph.nodes.size(), static_cast<size_t>(kLong));

  // A cycle deep in a long chain is still found and named.
  Model cyclic = relu_chain(kLong);
  cyclic.graph.nodes[10].inputs = {cyclic.graph.nodes[kLong - 2].outputs[0]};
  Status s = cyclic.graph.sort_topologically();
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(test_support::contains(s.message(), "graph has a cycle through node 'relu"));
  EXPECT_EQ(cyclic.graph.nodes.size(), static_cast<size_t>(kLong)) << "the graph was changed";
  EXPECT_EQ(cyclic.graph.nodes[10].name, "relu10");
}

}  // namespace
}  // namespace retort::engine
