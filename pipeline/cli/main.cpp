// The retort command line. Exit codes: 0 success, 1 the work failed, 2 bad usage.
#include <cstdio>
#include <cstring>

#include "args.h"
#include "commands.h"
#include "retort/core/build_info.h"

namespace {

const char* kUsage =
    "usage: retort <command> [options]\n"
    "\n"
    "commands:\n"
    "  run       run a recipe (cached, resumable)\n"
    "  validate  check a recipe without computing anything\n"
    "  graph     print a recipe's stage graph (--dot for Graphviz)\n"
    "  plugins   list the stage types and their parameters\n"
    "  eval      measure an ONNX model (accuracy, size, FLOPs, speed)\n"
    "  train     train one architecture outside a recipe\n"
    "  plot      draw an SVG plot from a JSON list of series\n"
    "  bench     run the benchmark recipes over seeds; report beside the published numbers\n"
    "\n"
    "retort <command> --help shows a command's options; retort --version the version.\n";

struct Command {
  const char* name;
  int (*run)(int, char**);
};

constexpr Command kCommands[] = {
    {"run", retort::cli::cmd_run},     {"validate", retort::cli::cmd_validate},
    {"graph", retort::cli::cmd_graph}, {"plugins", retort::cli::cmd_plugins},
    {"eval", retort::cli::cmd_eval},   {"train", retort::cli::cmd_train},
    {"plot", retort::cli::cmd_plot},   {"bench", retort::cli::cmd_bench},
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return retort::cli::kExitUsage;
  }
  if (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help"))
    return std::fputs(kUsage, stdout), retort::cli::kExitOk;
  if (!std::strcmp(argv[1], "--version"))
    return std::printf("retort %s\n", retort::build_description().c_str()), retort::cli::kExitOk;
  for (const Command& c : kCommands)
    if (!std::strcmp(argv[1], c.name)) return c.run(argc, argv);
  std::fprintf(stderr, "retort: unknown command '%s'\n\n%s", argv[1], kUsage);
  return retort::cli::kExitUsage;
}
