#include "retort/exec/executor.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <tuple>

#include <tbb/flow_graph.h>
#include <tbb/global_control.h>
#include <tbb/info.h>

#include "exec/cancel_flag.h"
#include "exec/stage_job.h"
#include "retort/core/cpu_budget.h"
#include "retort/core/text.h"
#include "retort/exec/report.h"

namespace retort::exec {
namespace {

namespace flow = tbb::flow;
using flow::continue_msg;

using Token = int;  // a permit to run one compute-heavy stage

// The stage's nodes. check (counts its dependencies) -> route -> run path -> done -> the
// dependents' check. Heavy stages pass through a reserving join with the shared token buffer,
// so at most `jobs` of them run at once and waiting ones block no thread.
struct StageNodes {
  using RouteNode = flow::multifunction_node<continue_msg, std::tuple<continue_msg, continue_msg>>;
  using JoinNode = flow::join_node<std::tuple<continue_msg, Token>, flow::reserving>;
  using HeavyRunNode =
      flow::multifunction_node<std::tuple<continue_msg, Token>, std::tuple<Token, continue_msg>>;

  std::unique_ptr<flow::continue_node<continue_msg>> check;
  std::unique_ptr<RouteNode> route;
  std::unique_ptr<flow::broadcast_node<continue_msg>> done;
  std::unique_ptr<flow::continue_node<continue_msg>> light_run;  // light stages
  std::unique_ptr<flow::buffer_node<continue_msg>> waiting;      // heavy stages
  std::unique_ptr<JoinNode> join;
  std::unique_ptr<HeavyRunNode> heavy_run;
};

// Holds the run folder against a second run writing the same folder at the same time.
class FolderLock {
 public:
  ~FolderLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the flock
  }
  Status acquire(const std::string& out_dir) {
    const std::string path = (std::filesystem::path(out_dir) / ".lock").string();
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return make_error(ErrorCode::kIo, "cannot create '", path, "'");
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      return make_error(ErrorCode::kInvalidArgument, "another retort run is using '", out_dir,
                        "'; wait for it to finish or choose another folder with --out");
    }
    return Status::Ok();
  }

 private:
  int fd_ = -1;
};

// run_recipe's own checks, for a recipe that did not come through validation.
Status check_recipe(const recipe::Recipe& recipe, const plugin::StageRegistry& registry,
                    const RunOptions& options) {
  if (options.jobs < 1) {
    return make_error(ErrorCode::kInvalidArgument, "--jobs ", options.jobs,
                      " is invalid; give 1 or more");
  }
  if (options.threads < 0) {
    return make_error(ErrorCode::kInvalidArgument, "--threads ", options.threads,
                      " is invalid; give 1 or more, or 0 for all cores");
  }
  std::map<std::string, const recipe::StageSpec*> by_id;
  std::vector<std::string> ids;
  for (const recipe::StageSpec& s : recipe.stages) {
    if (!by_id.emplace(s.id, &s).second) {
      return make_error(ErrorCode::kInvalidArgument, "stage id '", s.id,
                        "' is used twice; give every stage a unique id");
    }
    ids.push_back(s.id);
    if (registry.find(s.type) == nullptr) {
      return make_error(ErrorCode::kNotFound, "stage '", s.id, "': unknown stage type '", s.type,
                        "'", did_you_mean(s.type, registry.type_names()),
                        "; known types: ", join(registry.type_names()));
    }
  }
  for (const std::string& id : options.force) {
    if (by_id.count(id) == 0) {
      return make_error(ErrorCode::kInvalidArgument, "--force '", id,
                        "': the recipe has no stage with that id", did_you_mean(id, ids),
                        "; its stages: ", join(ids));
    }
  }
  for (const recipe::StageSpec& s : recipe.stages) {
    for (const auto& [port, refs] : s.inputs) {
      for (const recipe::InputRef& ref : refs) {
        if (!ref.stage.empty() && by_id.count(ref.stage) == 0) {
          return make_error(ErrorCode::kNotFound, "stage '", s.id, "': input '", port,
                            "' references unknown stage '", ref.stage, "'");
        }
        if (ref.stage.empty() && recipe.models.count(ref.model) == 0) {
          return make_error(ErrorCode::kNotFound, "stage '", s.id, "': input '", port,
                            "' references unknown recipe model '", ref.model, "'");
        }
      }
    }
  }
  // A cycle would leave its stages waiting forever: refuse it (Kahn's algorithm).
  std::map<std::string, int> pending;
  std::map<std::string, std::vector<std::string>> dependents;
  for (const recipe::StageSpec& s : recipe.stages) {
    std::set<std::string> ups;
    for (const auto& [port, refs] : s.inputs) {
      for (const recipe::InputRef& ref : refs) {
        if (!ref.stage.empty()) ups.insert(ref.stage);
      }
    }
    pending[s.id] = static_cast<int>(ups.size());
    for (const std::string& u : ups) dependents[u].push_back(s.id);
  }
  std::vector<std::string> ready;
  for (const auto& [id, n] : pending) {
    if (n == 0) ready.push_back(id);
  }
  size_t visited = 0;
  while (!ready.empty()) {
    const std::string id = ready.back();
    ready.pop_back();
    ++visited;
    for (const std::string& d : dependents[id]) {
      if (--pending[d] == 0) ready.push_back(d);
    }
  }
  if (visited != recipe.stages.size()) {
    std::vector<std::string> stuck;
    for (const auto& [id, n] : pending) {
      if (n > 0) stuck.push_back(id);
    }
    return make_error(ErrorCode::kInvalidArgument, "the stages ", join(stuck),
                      " depend on each other in a cycle; break it by removing one input");
  }
  return Status::Ok();
}

}  // namespace

const char* stage_status_name(StageStatus s) {
  switch (s) {
    case StageStatus::kRan:
      return "ran";
    case StageStatus::kCached:
      return "cached";
    case StageStatus::kFailed:
      return "failed";
    case StageStatus::kNotRun:
      return "not-run";
  }
  return "unknown";
}

bool RunResult::ok() const {
  if (cancelled) return false;
  return std::all_of(stages.begin(), stages.end(), [](const StageOutcome& s) {
    return s.status == StageStatus::kRan || s.status == StageStatus::kCached;
  });
}

const StageOutcome* RunResult::stage(const std::string& id) const {
  for (const StageOutcome& s : stages) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

Expected<RunResult> run_recipe(const recipe::Recipe& recipe, const plugin::StageRegistry& registry,
                               const RunOptions& options) {
  RETORT_RETURN_IF_ERROR(check_recipe(recipe, registry, options));

  const std::string out_dir =
      !options.out_dir.empty()
          ? options.out_dir
          : (std::filesystem::path("runs") / (recipe.name.empty() ? "recipe" : recipe.name))
                .string();
  ArtifactStore store(out_dir);
  RETORT_RETURN_IF_ERROR(store.prepare());
  FolderLock lock;
  RETORT_RETURN_IF_ERROR(lock.acquire(out_dir));
  for (const recipe::StageSpec& s : recipe.stages) store.remove_stale(s.id);

  Observer observer(options);
  const int threads = options.threads > 0 ? options.threads : tbb::info::default_concurrency();
  // Each running heavy stage gets its share of the cores; more jobs than cores would only
  // oversubscribe them.
  int jobs = options.jobs;
  if (jobs > threads) {
    observer.log("", "--jobs " + std::to_string(jobs) + " is more than the " +
                         std::to_string(threads) + " threads; running " + std::to_string(threads) +
                         " compute-heavy stages at once");
    jobs = threads;
  }
  RunContext ctx;
  ctx.recipe = &recipe;
  ctx.store = &store;
  ctx.observer = &observer;
  ctx.force = &options.force;
  ctx.cancel = cancel_flag();
  ctx.threads_per_stage = std::max(1, threads / jobs);
  // What the stages' OpenMP teams keep busy together: batch loaders prepare batches on a
  // worker of their own only when the machine has a CPU beyond these.
  const ComputeThreadsScope compute(jobs * ctx.threads_per_stage);

  // Stage bodies run on TBB threads and hold them while OpenMP computes; besides the heavy
  // stages, leave the caller and one worker free, e.g. for batch loaders' prefetch arenas.
  tbb::global_control parallelism(tbb::global_control::max_allowed_parallelism,
                                  static_cast<size_t>(jobs) + 2);

  std::vector<std::unique_ptr<StageJob>> stage_jobs;
  std::map<std::string, size_t> index_of;
  for (const recipe::StageSpec& s : recipe.stages) {
    index_of[s.id] = stage_jobs.size();
    stage_jobs.push_back(std::make_unique<StageJob>(ctx, s, *registry.find(s.type)));
  }

  flow::graph graph;
  flow::broadcast_node<continue_msg> start(graph);
  flow::buffer_node<Token> tokens(graph);
  std::vector<StageNodes> nodes(stage_jobs.size());
  for (size_t i = 0; i < stage_jobs.size(); ++i) {
    StageJob* job = stage_jobs[i].get();
    StageNodes& n = nodes[i];
    n.check =
        std::make_unique<flow::continue_node<continue_msg>>(graph, [job](const continue_msg&) {
          job->check();  // noexcept
          return continue_msg();
        });
    n.route = std::make_unique<StageNodes::RouteNode>(
        graph, flow::unlimited,
        [job](const continue_msg&, StageNodes::RouteNode::output_ports_type& out) {
          if (job->needs_run()) {
            std::get<0>(out).try_put(continue_msg());
          } else {
            std::get<1>(out).try_put(continue_msg());
          }
        });
    n.done = std::make_unique<flow::broadcast_node<continue_msg>>(graph);
    flow::make_edge(*n.check, *n.route);
    flow::make_edge(flow::output_port<1>(*n.route), *n.done);
    if (job->compute_heavy()) {
      n.waiting = std::make_unique<flow::buffer_node<continue_msg>>(graph);
      n.join = std::make_unique<StageNodes::JoinNode>(graph);
      n.heavy_run = std::make_unique<StageNodes::HeavyRunNode>(
          graph, flow::unlimited,
          [job](const std::tuple<continue_msg, Token>& in,
                StageNodes::HeavyRunNode::output_ports_type& out) {
            job->execute();                             // noexcept
            std::get<0>(out).try_put(std::get<1>(in));  // give the permit back
            std::get<1>(out).try_put(continue_msg());
          });
      flow::make_edge(flow::output_port<0>(*n.route), *n.waiting);
      flow::make_edge(*n.waiting, flow::input_port<0>(*n.join));
      flow::make_edge(tokens, flow::input_port<1>(*n.join));
      flow::make_edge(*n.join, *n.heavy_run);
      flow::make_edge(flow::output_port<0>(*n.heavy_run), tokens);
      flow::make_edge(flow::output_port<1>(*n.heavy_run), *n.done);
    } else {
      n.light_run =
          std::make_unique<flow::continue_node<continue_msg>>(graph, [job](const continue_msg&) {
            job->execute();  // noexcept
            return continue_msg();
          });
      flow::make_edge(flow::output_port<0>(*n.route), *n.light_run);
      flow::make_edge(*n.light_run, *n.done);
    }
  }
  // Edges from references: one per distinct upstream stage (continue_node counts edges).
  for (size_t i = 0; i < stage_jobs.size(); ++i) {
    std::set<std::string> ups;
    for (const auto& [port, refs] : recipe.stages[i].inputs) {
      for (const recipe::InputRef& ref : refs) {
        if (!ref.stage.empty()) ups.insert(ref.stage);
      }
    }
    for (const std::string& u : ups) {
      const size_t ui = index_of.at(u);
      stage_jobs[i]->add_upstream(stage_jobs[ui].get());
      flow::make_edge(*nodes[ui].done, *nodes[i].check);
    }
    if (ups.empty()) flow::make_edge(start, *nodes[i].check);
  }

  for (int t = 0; t < jobs; ++t) tokens.try_put(t);
  start.try_put(continue_msg());
  graph.wait_for_all();

  RunResult result;
  result.out_dir = out_dir;
  result.cancelled = cancel_requested();
  for (const auto& job : stage_jobs) result.stages.push_back(job->outcome());
  Status reported = write_reports(recipe, result);
  if (!reported.ok()) observer.log("", "could not write the run report: " + reported.message());
  return result;
}

}  // namespace retort::exec
