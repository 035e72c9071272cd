// Built models are valid ONNX (onnx::checker accepts them) and survive a save/load round trip.
#include <gtest/gtest.h>

#include "arch/arch_test_util.h"
#include "retort/graph/onnx_io.h"

namespace retort::arch {
namespace {

using nlohmann::json;

TEST(ArchOnnx, EveryArchitecturePassesTheCheckerAndRoundTrips) {
  for (const std::string& arch : known_architectures()) {
    json spec = {{"arch", arch}, {"class_names", {"a", "b", "c"}}};
    if (arch == "mlp" || arch == "cnn") spec["dropout"] = 0.1;
    Model m = testing::build_or_fail(spec, 5);
    auto bytes = serialize_onnx(m);
    ASSERT_TRUE(bytes.ok()) << arch << ": " << bytes.status().message();
    auto loaded = parse_onnx(*bytes, arch);
    ASSERT_TRUE(loaded.ok()) << arch << ": " << loaded.status().message();
    EXPECT_EQ(testing::node_names(*loaded), testing::node_names(m)) << arch;
    EXPECT_EQ(loaded->metadata, m.metadata) << arch;
    EXPECT_EQ(loaded->graph.inputs, m.graph.inputs) << arch;
    EXPECT_EQ(loaded->graph.outputs, m.graph.outputs) << arch;
    EXPECT_EQ(loaded->parameter_count(), m.parameter_count()) << arch;
  }
}

}  // namespace
}  // namespace retort::arch
