// Class names in a model's metadata: stored as a JSON array under "retort.classes" and kept
// through an ONNX save and load, so that users of the exported file can read them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "retort/arch/build_model.h"
#include "retort/graph/input_convention.h"
#include "retort/graph/onnx_io.h"

namespace retort {
namespace {

TEST(ClassNames, SurviveTheOnnxRoundTrip) {
  Expected<Model> model = arch::build_model({{"arch", "mlp"}, {"hidden", {8}}}, 1, "spec");
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_TRUE(class_names(*model).empty());  // the spec names none
  const std::vector<std::string> names = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                          "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                          "Bag",         "Ankle boot"};
  set_class_names(*model, names);
  EXPECT_EQ(model->metadata.at(kClassNamesKey),
            R"(["T-shirt/top","Trouser","Pullover","Dress","Coat","Sandal","Shirt","Sneaker",)"
            R"("Bag","Ankle boot"])");

  Expected<std::string> bytes = serialize_onnx(*model);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  Expected<Model> loaded = parse_onnx(*bytes, "memory");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(class_names(*loaded), names);
  EXPECT_EQ(loaded->metadata.at(kInputConventionKey), kRawPixelsConvention);

  set_class_names(*model, {});
  EXPECT_EQ(model->metadata.count(kClassNamesKey), 0u);
}

TEST(ClassNames, SpecNamesAndMalformedMetadata) {
  Expected<Model> model = arch::build_model(
      {{"arch", "mlp"}, {"hidden", {4}}, {"classes", 2}, {"class_names", {"cat", "dog"}}}, 1,
      "spec");
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ(class_names(*model), (std::vector<std::string>{"cat", "dog"}));
  model->metadata[kClassNamesKey] = R"(["cat", 2])";
  EXPECT_TRUE(class_names(*model).empty());
  model->metadata[kClassNamesKey] = "not json";
  EXPECT_TRUE(class_names(*model).empty());
}

}  // namespace
}  // namespace retort
