// Fixture: a well-formed plugin with two stage types, one that fails with a Status on request
// and one that throws, to check that errors come back through the C boundary intact.
#include <stdexcept>

#include "retort/plugin/sdk.h"

namespace {

using retort::ErrorCode;
using retort::Status;
using retort::plugin::StageContext;

// Counts the nodes and weights of its input model; fails with "fail_with" when it is set.
class Count final : public retort::plugin::Stage {
 public:
  Status run(StageContext& ctx) override {
    const std::string fail_with = ctx.params().value("fail_with", "");
    if (!fail_with.empty()) return Status(ErrorCode::kInvalidArgument, fail_with);
    RETORT_ASSIGN_OR_RETURN(retort::Model model, ctx.load_model("model"));
    int64_t weights = 0;
    for (const auto& [name, tensor] : model.graph.initializers) weights += tensor.numel();
    ctx.log("counted");
    return ctx.save_metrics("metrics", {{"nodes", model.graph.nodes.size()},
                                        {"weights", weights},
                                        {"seed", ctx.seed()},
                                        {"threads", ctx.threads()},
                                        {"label", ctx.params().value("label", "")}});
  }
};

class Throw final : public retort::plugin::Stage {
 public:
  Status run(StageContext& ctx) override {
    throw std::runtime_error("fixture-throw exploded: " + ctx.params().value("what", ""));
  }
};

constexpr retort_port_desc kCountIn[] = {{"model", RETORT_PORT_MODEL, 0, 0, "the model to count"}};
constexpr retort_port_desc kCountOut[] = {
    {"metrics", RETORT_PORT_METRICS, 0, 0, "nodes and weights"}};
constexpr retort_port_desc kThrowIn[] = {{"models", RETORT_PORT_MODEL, 1, 1, "ignored"}};

const retort_stage_desc kStages[] = {
    retort::plugin::stage_desc<Count>(
        "fixture-count", "counts nodes and weights",
        R"({"type": "object", "additionalProperties": false, "properties": {
              "fail_with": {"type": "string", "default": "", "description": "fail with this"},
              "label": {"type": "string", "default": "none"}}})",
        kCountIn, kCountOut, false),
    retort::plugin::stage_desc<Throw>(
        "fixture-throw", "always throws",
        R"({"type": "object", "properties": {"what": {"type": "string"}}})", kThrowIn, {}),
};

}  // namespace

RETORT_PLUGIN(fixture_good, "1.2.3", kStages)
