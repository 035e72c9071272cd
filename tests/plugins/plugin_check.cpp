// A small host for the out-of-tree plugin test: loads a plugin file or folder and either lists
// its stage types or runs one on a model, without a recipe.
//
//   retort_plugin_check list PATH
//   retort_plugin_check run PATH TYPE PORT MODEL PARAMS_JSON OUT_DIR
//     MODEL is an .onnx path or an architecture spec (JSON). Prints the first model output's
//     node count and last op: "model.onnx nodes=5 last_op=Mul".
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "retort/graph/onnx_io.h"
#include "retort/plugin/registry.h"

namespace {

using retort::plugin::StageRegistry;
using retort::plugin::StageType;

struct Run {
  std::string params, port, path, spec, out;
};

Run& of(retort_stage_run* r) {
  return *reinterpret_cast<Run*>(r);
}

const retort_host kHost = {
    sizeof(retort_host),
    [](retort_stage_run*) { return "check"; },
    [](retort_stage_run* r) { return of(r).params.c_str(); },
    [](retort_stage_run*) { return "{}"; },
    [](retort_stage_run* r, const char* port, size_t i) -> const char* {
      return i == 0 && of(r).port == port && !of(r).spec.empty() ? of(r).spec.c_str() : nullptr;
    },
    [](retort_stage_run*) -> uint64_t { return 1; },
    [](retort_stage_run*) -> int32_t { return 1; },
    [](retort_stage_run* r, const char* port) -> size_t { return of(r).port == port ? 1 : 0; },
    [](retort_stage_run* r, const char* port, size_t i) -> const char* {
      return i == 0 && of(r).port == port && !of(r).path.empty() ? of(r).path.c_str() : nullptr;
    },
    [](retort_stage_run* r) { return of(r).out.c_str(); },
    [](retort_stage_run*, const char*) {},
    [](retort_stage_run*, const char* message) { std::cerr << "log: " << message << "\n"; },
    [](retort_stage_run*) -> int32_t { return 0; },
    [](retort_stage_run*, const char* path) -> int32_t {
      if (path == nullptr || path[0] == '\0') return 1;
      std::cerr << "external file: " << path << "\n";
      return 0;
    },
    [](retort_stage_run*) -> int32_t { return 0; },  // run, never check
};

int fail(const std::string& message) {
  std::cerr << "retort_plugin_check: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return fail("usage: list PATH | run PATH TYPE PORT MODEL PARAMS_JSON OUT_DIR");
  const std::string command = argv[1], path = argv[2];
  StageRegistry registry;
  retort::Status loaded =
      std::filesystem::is_directory(path) ? registry.load_dir(path) : registry.load_file(path);
  if (!loaded.ok()) return fail(loaded.message());

  if (command == "list") {
    for (const StageType* t : registry.all()) {
      std::cout << t->type << "\t" << t->plugin_name << " " << t->plugin_version << "\t"
                << t->summary << "\n";
    }
    return 0;
  }
  if (command != "run" || argc != 8) return fail("bad arguments");
  const StageType* type = registry.find(argv[3]);
  if (type == nullptr) return fail(std::string("no stage type '") + argv[3] + "'");
  Run run{argv[6], argv[4], "", "", argv[7]};
  const std::string model = argv[5];
  (model.ends_with(".onnx") ? run.path : run.spec) = model;
  std::filesystem::create_directories(run.out);
  char error[1024] = {0};
  if (type->run(&kHost, reinterpret_cast<retort_stage_run*>(&run), error, sizeof(error)) != 0) {
    return fail(std::string("stage failed: ") + error);
  }
  for (const auto& port : type->outputs) {
    if (port.kind != RETORT_PORT_MODEL) continue;
    const std::string file = port.name + ".onnx";
    auto out = retort::load_onnx((std::filesystem::path(run.out) / file).string());
    if (!out.ok()) return fail(out.status().message());
    std::cout << file << " nodes=" << out->graph.nodes.size()
              << " last_op=" << out->graph.nodes.back().op_type << "\n";
    return 0;
  }
  return 0;
}
