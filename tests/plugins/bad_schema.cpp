// Fixture: the second stage type's params schema uses a type JSON Schema does not have. The
// first type is fine: the loader must register neither.
#include "retort/plugin/sdk.h"

namespace {

class Noop final : public retort::plugin::Stage {
 public:
  retort::Status run(retort::plugin::StageContext&) override { return retort::Status::Ok(); }
};

const retort_stage_desc kStages[] = {
    retort::plugin::stage_desc<Noop>("fixture-fine", "valid", R"({"type": "object"})", {}, {}),
    retort::plugin::stage_desc<Noop>(
        "fixture-bad", "invalid schema",
        R"({"type": "object", "properties": {"rate": {"type": "float"}}})", {}, {}),
};

}  // namespace

RETORT_PLUGIN(fixture_bad_schema, "1.0.0", kStages)
