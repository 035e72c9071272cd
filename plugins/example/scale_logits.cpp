// An example stage plugin built out of tree against an installed retort (see ../README.md).
//
// Stage type "scale-logits": temperature scaling, the usual post-hoc calibration of a
// classifier. It reads a model and writes the same model with its output multiplied by
// 1 / temperature (a Mul node appended after the last node), so softmax probabilities become
// softer (temperature > 1) or sharper (< 1) while the predicted class stays the same.
#include <string>

#include "nlohmann/json.hpp"
#include "retort/plugin/sdk.h"

namespace {

using retort::ErrorCode;
using retort::Model;
using retort::Status;
using retort::plugin::StageContext;

class ScaleLogits final : public retort::plugin::Stage {
 public:
  Status run(StageContext& ctx) override {
    // Params arrive validated against kSchema (temperature is required and > 0).
    const double temperature = ctx.params().at("temperature").get<double>();
    RETORT_ASSIGN_OR_RETURN(Model model, ctx.load_model("model"));
    retort::Graph& graph = model.graph;
    if (graph.outputs.size() != 1) {
      // The host prefixes every stage error with the stage id.
      return retort::make_error(ErrorCode::kInvalidArgument,
                                "scale-logits needs a model with one output, this one has ",
                                graph.outputs.size());
    }
    const std::string logits = graph.outputs[0].name;
    if (graph.producer_of(logits) == nullptr) {
      return retort::make_error(ErrorCode::kInvalidArgument, "the model's output '", logits,
                                "' is not computed by any node");
    }

    // The old producer now writes "<logits>.unscaled"; the new Mul writes the graph output,
    // so the model's interface (names, shapes) is unchanged.
    const std::string unscaled = graph.unique_name(logits + ".unscaled");
    for (auto& node : graph.nodes) {
      for (auto& out : node.outputs) {
        if (out == logits) out = unscaled;
      }
      for (auto& in : node.inputs) {
        if (in == logits) in = unscaled;
      }
    }
    const std::string factor = graph.unique_name("scale_logits.factor");
    graph.initializers[factor] = retort::Tensor::scalar(static_cast<float>(1.0 / temperature));
    retort::Node mul;
    mul.name = graph.unique_name("scale_logits.mul");
    mul.op_type = "Mul";
    mul.inputs = {unscaled, factor};
    mul.outputs = {logits};
    graph.nodes.push_back(std::move(mul));

    // Later training stages must not learn the temperature away: mark it a constant.
    nlohmann::json constants = nlohmann::json::array();
    if (auto it = model.metadata.find(retort::kConstantsKey); it != model.metadata.end()) {
      constants = nlohmann::json::parse(it->second, nullptr, false);
      if (!constants.is_array()) constants = nlohmann::json::array();
    }
    constants.push_back(factor);
    model.metadata[retort::kConstantsKey] = constants.dump();
    model.metadata["retort.temperature"] = std::to_string(temperature);

    ctx.log("scaled '" + logits + "' by 1/" + std::to_string(temperature));
    return ctx.save_model("model", model);
  }
};

constexpr const char* kSchema = R"({
  "type": "object",
  "additionalProperties": false,
  "required": ["temperature"],
  "properties": {
    "temperature": {
      "type": "number", "exclusiveMinimum": 0,
      "description": "the logits are divided by this; > 1 softens the probabilities"
    }
  }
})";

constexpr retort_port_desc kInputs[] = {
    {"model", RETORT_PORT_MODEL, 0, 0, "the classifier to calibrate"}};
constexpr retort_port_desc kOutputs[] = {
    {"model", RETORT_PORT_MODEL, 0, 0, "the same classifier with scaled logits"}};

// compute_heavy = false: the stage only rewrites a graph, so it does not count against --jobs.
const retort_stage_desc kStages[] = {retort::plugin::stage_desc<ScaleLogits>(
    "scale-logits", "divide a classifier's logits by a temperature (calibration)", kSchema, kInputs,
    kOutputs, false)};

}  // namespace

// Exports retort_plugin_entry (retort_add_plugin defines RETORT_PLUGIN_MODULE).
RETORT_PLUGIN(scale_logits, "1.0.0", kStages)
