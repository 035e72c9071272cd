// retort run / validate / graph: the commands that take a recipe.
#include <cstdio>
#include <filesystem>
#include <string>

#include "args.h"
#include "commands.h"
#include "progress_display.h"
#include "retort/exec/executor.h"
#include "retort/exec/preflight.h"
#include "retort/recipe/recipe.h"
#include "stage_registry_loading.h"

namespace retort::cli {
namespace {

const char* kRunUsage =
    "usage: retort run RECIPE.json [--out DIR] [--threads N] [--jobs N] [--force ID]... "
    "[--plugin-dir DIR]...\n"
    "\n"
    "Validates RECIPE (as `retort validate` does, nothing runs when it is not valid), then runs\n"
    "every stage that is not already cached in the run folder\n"
    "(default runs/<recipe name>). Writes <out>/<stage>/ artifacts, report.md, report.html\n"
    "(with an accuracy-vs-size plot), report.json and\n"
    "recipe.resolved.json. Ctrl-C stops cleanly; running again resumes.\n"
    "  --out DIR         run folder\n"
    "  --threads N       cores to use (default: all)\n"
    "  --jobs N          compute-heavy stages at once; cores are split between them (default 1)\n"
    "  --force ID        re-run stage ID even if cached (repeatable)\n"
    "  --plugin-dir DIR  also load stage plugins from DIR (repeatable)\n"
    "Exit codes: 0 success, 1 a stage failed or the run was interrupted (also while the recipe\n"
    "is validated), 2 bad usage or invalid recipe.\n";

const char* kValidateUsage =
    "usage: retort validate RECIPE.json [--plugin-dir DIR]...\n"
    "\n"
    "Checks RECIPE without computing anything and prints every problem found, each with the JSON\n"
    "path it concerns: the recipe's structure and params, then each stage's own checks (e.g. a\n"
    "distill stage's value names and class counts) on the models known before training.\n"
    "Exit code 0 when valid, 2 when not, 1 when interrupted (Ctrl-C) before the checks ended.\n";

const char* kGraphUsage =
    "usage: retort graph RECIPE.json [--dot] [--plugin-dir DIR]...\n"
    "\n"
    "Prints the recipe's stage graph (text, or Graphviz DOT with --dot).\n";

// Validates and reports problems; nullopt-like failure returns the exit code via `code`.
Expected<recipe::Recipe> load_valid_recipe(const Args& args,
                                           const plugin::StageRegistry& registry) {
  if (args.positional.size() != 1)
    return make_error(ErrorCode::kInvalidArgument, "expected exactly one RECIPE.json argument");
  std::vector<recipe::Diagnostic> problems;
  auto r = recipe::load_recipe(args.positional[0], registry, &problems);
  if (!r.ok()) {
    for (const auto& d : problems)
      std::fprintf(stderr, "%s\n", d.format(args.positional[0]).c_str());
    if (problems.empty()) std::fprintf(stderr, "%s\n", r.status().message().c_str());
    return r.status();
  }
  return r;
}

// Runs every stage's check before anything is computed; prints the problems. True when none.
// False without printing when a stop signal cut the checks short (the caller reports that).
bool stages_check_out(const Args& args, const recipe::Recipe& r,
                      const plugin::StageRegistry& registry) {
  std::vector<recipe::Diagnostic> problems = exec::check_stages(r, registry);
  if (exec::cancel_requested()) return false;
  for (const auto& d : problems) std::fprintf(stderr, "%s\n", d.format(args.positional[0]).c_str());
  return problems.empty();
}

// A stop signal (SIGINT/SIGTERM) arrived before any stage ran: say so, change nothing.
int interrupted(const std::string& what) {
  std::fprintf(stderr, "retort: interrupted while %s; nothing was run or changed\n", what.c_str());
  return kExitFailed;
}

}  // namespace

int cmd_validate(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, {"--plugin-dir"}, {"--help"});
  if (!args.ok()) return fail(args.status(), kExitUsage);
  if (args->has("--help")) return std::fputs(kValidateUsage, stdout), kExitOk;
  // Before any work: a stop signal then ends the checks cleanly (no scratch folder left).
  exec::install_signal_handlers();
  const std::string validating = "validating the recipe";
  plugin::StageRegistry registry;
  Status loaded = load_stage_registry(*args, registry);
  if (exec::cancel_requested()) return interrupted(validating);
  if (!loaded.ok()) return fail(loaded, kExitUsage);
  auto r = load_valid_recipe(*args, registry);
  const bool valid = r.ok() && stages_check_out(*args, *r, registry);
  if (exec::cancel_requested()) return interrupted(validating);
  if (!valid) {
    std::fprintf(stderr, "retort: %s is not valid\n",
                 args->positional.empty() ? "recipe" : args->positional[0].c_str());
    return kExitUsage;
  }
  std::printf("%s: valid (%zu stages)\n", args->positional[0].c_str(), r->stages.size());
  return kExitOk;
}

int cmd_graph(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, {"--plugin-dir"}, {"--dot", "--help"});
  if (!args.ok()) return fail(args.status(), kExitUsage);
  if (args->has("--help")) return std::fputs(kGraphUsage, stdout), kExitOk;
  plugin::StageRegistry registry;
  if (Status s = load_stage_registry(*args, registry); !s.ok()) return fail(s, kExitUsage);
  auto r = load_valid_recipe(*args, registry);
  if (!r.ok()) return kExitUsage;
  std::fputs((args->has("--dot") ? exec::graph_dot(*r) : exec::graph_text(*r)).c_str(), stdout);
  return kExitOk;
}

int cmd_run(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, {"--out", "--threads", "--jobs", "--force", "--plugin-dir"},
                         {"--help"});
  if (!args.ok()) return fail(args.status(), kExitUsage);
  if (args->has("--help")) return std::fputs(kRunUsage, stdout), kExitOk;
  // Before any work: a stop signal during validation and the stage checks then ends them
  // cleanly (no scratch folder left, the run folder untouched) instead of killing the process.
  exec::install_signal_handlers();
  const std::string validating = "validating the recipe, before any stage ran";
  plugin::StageRegistry registry;
  Status loaded = load_stage_registry(*args, registry);
  if (exec::cancel_requested()) return interrupted(validating);
  if (!loaded.ok()) return fail(loaded, kExitUsage);
  auto r = load_valid_recipe(*args, registry);
  if (exec::cancel_requested()) return interrupted(validating);
  if (!r.ok()) return kExitUsage;
  const bool checked = stages_check_out(*args, *r, registry);
  if (exec::cancel_requested()) return interrupted(validating);
  if (!checked) {
    std::fprintf(stderr, "retort: nothing was run; fix the recipe and run again\n");
    return kExitUsage;
  }

  exec::RunOptions options;
  auto threads = args->get_int("--threads", 0, 0);
  auto jobs = args->get_int("--jobs", 1, 1);
  if (!threads.ok()) return fail(threads.status(), kExitUsage);
  if (!jobs.ok()) return fail(jobs.status(), kExitUsage);
  options.threads = static_cast<int>(*threads);
  options.jobs = static_cast<int>(*jobs);
  options.out_dir = args->get("--out", (std::filesystem::path("runs") / r->name).string());
  for (const std::string& id : args->all("--force")) {
    if (!r->stage(id))
      return fail(make_error(ErrorCode::kInvalidArgument, "--force ", id,
                             ": the recipe has no stage with that id"),
                  kExitUsage);
    options.force.insert(id);
  }
  // A signal from here on is the run's to handle (it stops the stages and writes the report),
  // but none has started yet: leave the run folder and its report as they are.
  if (exec::cancel_requested()) return interrupted(validating);
  ProgressDisplay display;
  display.observe(options);  // live lines, and "stage X ran in N s" as each stage ends

  auto result = exec::run_recipe(*r, registry, options);
  display.clear();
  if (!result.ok()) return fail(result.status(), kExitFailed);
  int failed = 0;
  std::printf("\n%-16s %-10s %-8s %8s  %s\n", "stage", "type", "status", "seconds", "result");
  for (const exec::StageOutcome& s : result->stages) {
    std::string summary;
    if (s.status == exec::StageStatus::kFailed) {
      summary = s.error;
      ++failed;
    } else if (s.metrics.is_object() && s.metrics.contains("test_accuracy")) {
      summary =
          "test accuracy " + std::to_string(s.metrics["test_accuracy"].get<double>()).substr(0, 6);
    } else if (s.metrics.is_object() && s.metrics.contains("models")) {
      for (const auto& m : s.metrics["models"])
        summary += m.value("name", "?") + " " +
                   std::to_string(m.value("accuracy", 0.0)).substr(0, 6) + "  ";
    }
    std::printf("%-16s %-10s %-8s %8.1f  %s\n", s.id.c_str(), s.type.c_str(),
                exec::stage_status_name(s.status), s.seconds, summary.c_str());
  }
  std::printf("\nrun folder: %s (report.md, report.html, report.json)\n", result->out_dir.c_str());
  if (result->cancelled) {
    std::fprintf(stderr, "retort: interrupted; finished stages are kept, run again to resume\n");
    return kExitFailed;
  }
  return failed ? kExitFailed : kExitOk;
}

}  // namespace retort::cli
