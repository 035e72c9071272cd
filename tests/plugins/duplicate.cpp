// Fixture: provides "fixture-count", which the good fixture already provides.
#include "retort/plugin/sdk.h"

namespace {

class Noop final : public retort::plugin::Stage {
 public:
  retort::Status run(retort::plugin::StageContext&) override { return retort::Status::Ok(); }
};

const retort_stage_desc kStages[] = {retort::plugin::stage_desc<Noop>(
    "fixture-count", "clashes with the good fixture", R"({"type": "object"})", {}, {})};

}  // namespace

RETORT_PLUGIN(fixture_duplicate, "1.0.0", kStages)
