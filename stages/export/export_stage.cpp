// `export`: writes a model to a path of the user's, checked by the ONNX checker and written
// through a temporary name. The run folder keeps a copy as its artifact, and the exported file
// is recorded with the host: a rerun writes it again when it was deleted or changed since.
#include <filesystem>

#include "retort/graph/onnx_io.h"
#include "retort/plugin/sdk.h"

namespace retort::stages {
namespace {

const char* const kExportSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "required": ["path"],
  "properties": {
    "path": {"type": "string", "description": "where to write the .onnx file (relative: to the current folder)"}
  }
})json";

class ExportStage final : public plugin::Stage {
 public:
  Status run(plugin::StageContext& ctx) override {
    RETORT_ASSIGN_OR_RETURN(Model model, ctx.load_model("model"));
    const std::filesystem::path target = ctx.params().at("path").get<std::string>();
    if (target.has_parent_path()) {
      std::error_code ec;
      std::filesystem::create_directories(target.parent_path(), ec);
      if (ec)
        return make_error(ErrorCode::kIo, "/params/path: cannot create folder '",
                          target.parent_path().string(), "': ", ec.message());
    }
    RETORT_RETURN_IF_ERROR(save_onnx(model, target.string()));  // temporary name, then rename
    RETORT_RETURN_IF_ERROR(ctx.record_external_file(target.string()));
    ctx.log("exported " + target.string());
    return ctx.save_model("model", model);
  }
};

const retort_port_desc kInputs[] = {{"model", RETORT_PORT_MODEL, 0, 0, "the model to export"}};
const retort_port_desc kOutputs[] = {{"model", RETORT_PORT_MODEL, 0, 0, "the exported model"}};
const retort_stage_desc kStages[] = {plugin::stage_desc<ExportStage>(
    "export", "write a model to a path as checked ONNX", kExportSchema, kInputs, kOutputs, false)};

}  // namespace
}  // namespace retort::stages

RETORT_PLUGIN(export, RETORT_VERSION, retort::stages::kStages)
