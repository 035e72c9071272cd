// retort bench: the benchmark recipes over N seeds, then one report (Markdown, HTML, JSON) of
// seed means beside the published numbers.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include "args.h"
#include "commands.h"
#include "progress_display.h"
#include "retort/bench/bench_report.h"
#include "retort/bench/results.h"
#include "retort/bench/seeded_recipe.h"
#include "retort/bench/suite.h"
#include "retort/core/build_info.h"
#include "retort/exec/artifact_store.h"
#include "retort/exec/executor.h"
#include "retort/exec/preflight.h"
#include "retort/recipe/recipe.h"
#include "stage_registry_loading.h"

namespace retort::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const char* kBenchUsage =
    "usage: retort bench [--suite FILE] [--only NAME]... [--seeds N] [--quick] [--out DIR]\n"
    "                    [--report DIR] [--threads N] [--jobs N] [--plugin-dir DIR]...\n"
    "\n"
    "Runs the benchmark recipes listed in the suite file over seeds 1..N (each seed is the\n"
    "recipe with its \"seed\" set; stages without a seed of their own inherit it), each seed in\n"
    "its own run folder <out>/<benchmark>/seed-<k>, cached like `retort run`: running again\n"
    "computes only what is missing. Then writes <out>/bench.md, <out>/bench.html (self-contained)\n"
    "and <out>/bench.json: per benchmark, every model's accuracy (mean and standard deviation "
    "over\n"
    "the seeds) beside the published number, its size, latency and throughput, links to the run\n"
    "folders and artifact hashes, the machine, and SVG plots (<out>/plots/).\n"
    "Every recipe of every seed is validated before anything runs.\n"
    "  --suite FILE      the benchmark list (default recipes/benchmarks/suite.json)\n"
    "  --only NAME       run only this benchmark (repeatable)\n"
    "  --seeds N         seeds 1..N (default 3)\n"
    "  --quick           smoke run: 2,000 training and 1,000 test images, at most one epoch per\n"
    "                    training (default --out runs/bench-quick)\n"
    "  --out DIR         output folder (default runs/bench)\n"
    "  --report DIR      write bench.md, bench.html, bench.json and plots/ here instead of\n"
    "                    <out> (e.g. bench/results); links still lead to the run folders\n"
    "  --threads N       cores to use (default: all)\n"
    "  --jobs N          compute-heavy stages at once (default 1)\n"
    "  --plugin-dir DIR  also load stage plugins from DIR (repeatable)\n"
    "Exit codes: 0 every run complete, 1 a stage failed or the run was interrupted, 2 bad usage,\n"
    "an invalid suite or recipe.\n";

// nlohmann::json's noexcept move asserts its invariants, which clang-tidy counts as a throw.
struct PlannedRun {  // NOLINT(bugprone-exception-escape)
  uint64_t seed = 0;
  std::string folder;
  std::string recipe_file;  // the seeded recipe as run, kept beside its folder
  json recipe_json;
  std::unique_ptr<recipe::Recipe> recipe;  // held by pointer: a Recipe does not move noexcept
};

struct PlannedBenchmark {
  const bench::BenchmarkSpec* spec = nullptr;
  std::vector<PlannedRun> runs;
};

std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", &tm);
  return text;
}

std::string command_line(int argc, char** argv) {
  std::string out = "retort";
  for (int i = 1; i < argc; ++i) out += std::string(" ") + argv[i];
  return out;
}

Expected<json> read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot read recipe '", path, "'");
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    return make_error(ErrorCode::kParse, path, ": not valid JSON (retort validate ", path,
                      " says where)");
  return j;
}

// The suite's model names (published rows, sweep points) must be stages of the recipe.
std::vector<std::string> name_problems(const bench::BenchmarkSpec& spec, const recipe::Recipe& r,
                                       const std::string& suite_path) {
  std::vector<std::string> problems;
  auto check = [&](const std::string& model, const std::string& what) {
    const std::string stage = model.substr(0, model.find('.'));
    if (!r.stage(stage))
      problems.push_back(suite_path + ": benchmark '" + spec.name + "': " + what + " names '" +
                         model + "', which is not a stage of " + spec.recipe);
  };
  for (const auto& [model, _] : spec.published) check(model, "a published number");
  for (const bench::SweepPlot& sweep : spec.sweeps)
    for (const bench::SweepSeries& series : sweep.series)
      for (const bench::SweepPoint& p : series.points)
        check(p.model, "sweep '" + sweep.title + "'");
  return problems;
}

// Validates every seeded recipe (structure, params, stage checks) before anything is computed;
// prints every problem. False when there is one.
bool plan_benchmarks(const bench::Suite& suite,
                     const std::vector<const bench::BenchmarkSpec*>& specs, int seeds,
                     const bench::QuickOptions* quick, const fs::path& out,
                     const plugin::StageRegistry& registry, std::vector<PlannedBenchmark>& plan) {
  bool ok = true;
  for (const bench::BenchmarkSpec* spec : specs) {
    auto base = read_json(spec->recipe);
    if (!base.ok()) {
      std::fprintf(stderr, "retort: error: benchmark '%s': %s\n", spec->name.c_str(),
                   base.status().message().c_str());
      ok = false;
      continue;
    }
    PlannedBenchmark planned{spec, {}};
    for (int k = 1; k <= seeds; ++k) {
      PlannedRun run;
      run.seed = static_cast<uint64_t>(k);
      run.folder = (out / spec->name / ("seed-" + std::to_string(k))).string();
      run.recipe_file = run.folder + ".recipe.json";
      run.recipe_json = bench::recipe_for_seed(*base, run.seed, quick, run.folder);
      std::vector<recipe::Diagnostic> problems;
      auto r = recipe::parse_recipe(run.recipe_json.dump(), spec->recipe, registry, &problems);
      if (r.ok()) problems = exec::check_stages(*r, registry);
      if (exec::cancel_requested()) return false;  // the caller reports the interruption
      const std::string what =
          spec->recipe + " (seed " + std::to_string(k) + (quick ? ", --quick" : "") + ")";
      for (const recipe::Diagnostic& d : problems)
        std::fprintf(stderr, "%s\n", d.format(what).c_str());
      if (!r.ok() && problems.empty())
        std::fprintf(stderr, "%s: %s\n", what.c_str(), r.status().message().c_str());
      if (!r.ok() || !problems.empty()) {
        ok = false;
        break;  // the other seeds would repeat the same problems
      }
      if (k == 1)
        for (const std::string& p : name_problems(*spec, *r, suite.path)) {
          std::fprintf(stderr, "%s\n", p.c_str());
          ok = false;
        }
      run.recipe = std::make_unique<recipe::Recipe>(std::move(*r));
      planned.runs.push_back(std::move(run));
    }
    plan.push_back(std::move(planned));
  }
  return ok;
}

bench::SeedRun run_seed(const PlannedRun& planned, const plugin::StageRegistry& registry,
                        const exec::RunOptions& base_options) {
  bench::SeedRun run;
  run.seed = planned.seed;
  run.folder = planned.folder;
  exec::RunOptions options = base_options;
  options.out_dir = planned.folder;
  ProgressDisplay display;
  display.observe(options);
  const auto start = std::chrono::steady_clock::now();
  auto result = exec::run_recipe(*planned.recipe, registry, options);
  display.clear();
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!result.ok()) {
    run.error = result.status().message();
    return run;
  }
  for (const exec::StageOutcome& s : result->stages) {
    if (s.status == exec::StageStatus::kRan) ++run.ran;
    if (s.status == exec::StageStatus::kCached) ++run.cached;
    if (s.status == exec::StageStatus::kFailed) {
      ++run.failed;
      if (run.error.empty()) run.error = s.error;
    }
  }
  if (result->cancelled) run.error = "interrupted; run the same command again to resume";
  run.ok = result->ok();
  return run;
}

// Writes bench.json, bench.md, bench.html and plots/ into `out`, each file atomically.
Status write_bench_reports(const json& results, const fs::path& out) {
  std::error_code ec;
  fs::create_directories(out / "plots", ec);
  if (ec)
    return make_error(ErrorCode::kIo, "cannot create ", (out / "plots").string(), ": ",
                      ec.message());
  std::set<fs::path> written;
  for (const json& b : results["benchmarks"])
    for (const bench::BenchPlot& plot : bench::benchmark_plots(b)) {
      RETORT_RETURN_IF_ERROR(
          exec::write_file_atomic((out / "plots" / plot.file).string(), plot.svg));
      written.insert(out / "plots" / plot.file);
    }
  // Plots of an earlier report (other benchmarks, --only) would be mistaken for this one's.
  for (const fs::directory_entry& e : fs::directory_iterator(out / "plots", ec))
    if (e.path().extension() == ".svg" && !written.count(e.path())) fs::remove(e.path(), ec);
  RETORT_RETURN_IF_ERROR(
      exec::write_file_atomic((out / "bench.json").string(), results.dump(2) + "\n"));
  RETORT_RETURN_IF_ERROR(exec::write_file_atomic((out / "bench.md").string(),
                                                 bench::bench_markdown(results, out.string())));
  return exec::write_file_atomic((out / "bench.html").string(),
                                 bench::bench_html(results, out.string()));
}

void print_summary(const json& results) {
  for (const json& b : results["benchmarks"]) {
    std::printf("\n%s (%s)\n", b["name"].get<std::string>().c_str(),
                b["recipe"].get<std::string>().c_str());
    for (const json& r : b["rows"]) {
      if (!r["accuracy"].is_object()) continue;
      const json& a = r["accuracy"];
      std::printf("  %-24s %.4f +- %.4f (n=%d)\n", r["model"].get<std::string>().c_str(),
                  a["mean"].get<double>(), a["std"].get<double>(), a["n"].get<int>());
    }
    for (const json& run : b["runs"])
      if (!run["error"].get<std::string>().empty())
        std::printf("  seed %d: %s\n", run["seed"].get<int>(),
                    run["error"].get<std::string>().c_str());
  }
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  auto args = parse_args(
      argc, argv, 2,
      {"--suite", "--only", "--seeds", "--out", "--report", "--threads", "--jobs", "--plugin-dir"},
      {"--quick", "--help"});
  if (!args.ok()) return fail(args.status(), kExitUsage);
  if (args->has("--help")) return std::fputs(kBenchUsage, stdout), kExitOk;
  if (!args->positional.empty())
    return fail(make_error(ErrorCode::kInvalidArgument, "unexpected argument '",
                           args->positional[0], "' (benchmarks are chosen with --only NAME)"),
                kExitUsage);
  auto seeds = args->get_int("--seeds", 3, 1);
  auto threads = args->get_int("--threads", 0, 0);
  auto jobs = args->get_int("--jobs", 1, 1);
  for (const auto* v : {&seeds, &threads, &jobs})
    if (!v->ok()) return fail(v->status(), kExitUsage);
  const bool quick = args->has("--quick");
  const fs::path out = args->get("--out", quick ? "runs/bench-quick" : "runs/bench");

  auto suite = bench::load_suite(args->get("--suite", "recipes/benchmarks/suite.json"));
  if (!suite.ok()) return fail(suite.status(), kExitUsage);
  std::vector<const bench::BenchmarkSpec*> specs;
  for (const std::string& name : args->all("--only")) {
    const bench::BenchmarkSpec* spec = suite->find(name);
    if (!spec) {
      std::string known;
      for (const auto& b : suite->benchmarks) known += (known.empty() ? "" : ", ") + b.name;
      return fail(make_error(ErrorCode::kInvalidArgument, "--only ", name, ": ", suite->path,
                             " has no benchmark of that name (it has: ", known, ")"),
                  kExitUsage);
    }
    if (std::find(specs.begin(), specs.end(), spec) == specs.end()) specs.push_back(spec);
  }
  if (specs.empty())
    for (const bench::BenchmarkSpec& b : suite->benchmarks) specs.push_back(&b);

  // Before the recipes' stage checks: a stop signal then ends them cleanly (no scratch folder).
  exec::install_signal_handlers();
  plugin::StageRegistry registry;
  if (Status s = load_stage_registry(*args, registry); !s.ok()) return fail(s, kExitUsage);
  const bench::QuickOptions quick_options;
  std::vector<PlannedBenchmark> plan;
  const bool planned = plan_benchmarks(*suite, specs, static_cast<int>(*seeds),
                                       quick ? &quick_options : nullptr, out, registry, plan);
  if (exec::cancel_requested()) {
    std::fprintf(stderr, "retort: interrupted while checking the recipes; nothing was run\n");
    return kExitFailed;
  }
  if (!planned) {
    std::fprintf(stderr, "retort: nothing was run; fix the problems above and run again\n");
    return kExitUsage;
  }

  exec::RunOptions options;
  options.threads = static_cast<int>(*threads);
  options.jobs = static_cast<int>(*jobs);
  json results = {{"retort_version", version()},
                  {"retort_commit", build_commit()},
                  {"date", utc_now()},
                  {"command", command_line(argc, argv)},
                  {"quick", quick},
                  {"seeds", json::array()},
                  {"machine", bench::machine_json(options.threads)},
                  {"benchmarks", json::array()}};
  for (int k = 1; k <= *seeds; ++k) results["seeds"].push_back(k);
  results["machine"]["load_start"] = bench::load_average();
  bool all_ok = true;
  for (const PlannedBenchmark& b : plan) {
    std::vector<bench::SeedRun> runs;
    for (const PlannedRun& planned : b.runs) {
      if (exec::cancel_requested()) break;
      std::fprintf(stderr, "retort bench: %s, seed %llu -> %s\n", b.spec->name.c_str(),
                   static_cast<unsigned long long>(planned.seed), planned.folder.c_str());
      std::error_code ec;
      fs::create_directories(fs::path(planned.folder).parent_path(), ec);
      if (Status s =
              exec::write_file_atomic(planned.recipe_file, planned.recipe_json.dump(2) + "\n");
          !s.ok())
        return fail(s, kExitFailed);
      runs.push_back(run_seed(planned, registry, options));
      all_ok = all_ok && runs.back().ok;
    }
    if (!runs.empty()) results["benchmarks"].push_back(bench::collect_benchmark(*b.spec, runs));
  }
  // The load says how busy the machine was while things were measured; a run served entirely
  // from the cache measured nothing now.
  bool computed = false;
  for (const json& b : results["benchmarks"])
    for (const json& run : b["runs"]) computed = computed || run["ran"].get<int>() > 0;
  if (computed) {
    results["machine"]["load_end"] = bench::load_average();
  } else {
    results["machine"].erase("load_start");
    results["machine"]["from_cache"] = true;
  }
  const fs::path report = args->get("--report", out.string());
  if (Status s = write_bench_reports(results, report); !s.ok()) return fail(s, kExitFailed);
  print_summary(results);
  std::printf("\nreport: %s, %s, %s\n", (report / "bench.md").c_str(),
              (report / "bench.html").c_str(), (report / "bench.json").c_str());
  if (exec::cancel_requested()) {
    std::fprintf(stderr, "retort: interrupted; finished stages are kept, run again to resume\n");
    return kExitFailed;
  }
  return all_ok ? kExitOk : kExitFailed;
}

}  // namespace retort::cli
