// retort plugins: every stage type with its summary, ports and parameters.
#include <cstdio>

#include "args.h"
#include "commands.h"
#include "retort/core/json_schema.h"
#include "stage_registry_loading.h"

namespace retort::cli {
namespace {

const char* kUsage =
    "usage: retort plugins [--json] [--plugin-dir DIR]...\n"
    "\n"
    "Lists every stage type the loaded plugins provide: summary, input and output ports (with\n"
    "their kinds) and parameters (type, default, description).\n";

nlohmann::json ports_json(const std::vector<plugin::PortInfo>& ports) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : ports)
    out.push_back({{"name", p.name},
                   {"kind", plugin::port_kind_name(p.kind)},
                   {"multiple", p.multiple},
                   {"optional", p.optional},
                   {"summary", p.summary}});
  return out;
}

}  // namespace

int cmd_plugins(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, {"--plugin-dir"}, {"--json", "--help"});
  if (!args.ok()) return fail(args.status(), kExitUsage);
  if (args->has("--help")) return std::fputs(kUsage, stdout), kExitOk;
  plugin::StageRegistry registry;
  if (Status s = load_stage_registry(*args, registry); !s.ok()) return fail(s, kExitUsage);
  nlohmann::json all = nlohmann::json::array();
  for (const plugin::StageType* t : registry.all())
    all.push_back({{"type", t->type},
                   {"summary", t->summary},
                   {"plugin", t->plugin_name},
                   {"version", t->plugin_version},
                   {"origin", t->origin},
                   {"inputs", ports_json(t->inputs)},
                   {"outputs", ports_json(t->outputs)},
                   {"params", t->params_schema}});
  if (args->has("--json")) {
    std::printf("%s\n", all.dump(2).c_str());
    return kExitOk;
  }
  for (const auto& t : all) {
    std::printf("%s  (%s %s)\n  %s\n", t["type"].get<std::string>().c_str(),
                t["plugin"].get<std::string>().c_str(), t["version"].get<std::string>().c_str(),
                t["summary"].get<std::string>().c_str());
    for (const char* dir : {"inputs", "outputs"})
      for (const auto& p : t[dir])
        std::printf("    %-7s %-10s %-8s%s%s  %s\n", dir[0] == 'i' ? "in" : "out",
                    p["name"].get<std::string>().c_str(), p["kind"].get<std::string>().c_str(),
                    p["multiple"].get<bool>() ? " (list)" : "",
                    p["optional"].get<bool>() ? " (optional)" : "",
                    p["summary"].get<std::string>().c_str());
    if (t["params"].contains("properties"))
      for (const auto& [name, s] : t["params"]["properties"].items())
        std::printf("    param   %-18s %s  %s%s\n", name.c_str(), describe_schema(s).c_str(),
                    s.contains("default") ? ("default " + s["default"].dump() + "  ").c_str() : "",
                    s.value("description", "").c_str());
    std::printf("\n");
  }
  return kExitOk;
}

}  // namespace retort::cli
