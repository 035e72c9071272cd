// Fixture: a second well-formed plugin, so that loading a folder loads more than one file.
#include "retort/plugin/sdk.h"

namespace {

class Noop final : public retort::plugin::Stage {
 public:
  retort::Status run(retort::plugin::StageContext&) override { return retort::Status::Ok(); }
};

constexpr retort_port_desc kOut[] = {{"metrics", RETORT_PORT_METRICS, 0, 0, "nothing"}};
const retort_stage_desc kStages[] = {retort::plugin::stage_desc<Noop>(
    "fixture-extra", "does nothing", R"({"type": "object"})", {}, kOut, false)};

}  // namespace

RETORT_PLUGIN(fixture_extra, "0.1.0", kStages)
