#include "retort/core/cpu_budget.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <thread>

#ifdef __linux__
#include <sched.h>
#endif

namespace retort {
namespace {
// 0: no scope is live. Process-wide, not thread-local: the executor declares the budget on
// its own thread, and stages read it on TBB workers.
std::atomic<int> declared_compute_threads{0};
}  // namespace

int usable_cpus() {
#ifdef __linux__
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

int compute_threads() {
  const int declared = declared_compute_threads.load(std::memory_order_relaxed);
  return declared > 0 ? declared : omp_get_max_threads();
}

ComputeThreadsScope::ComputeThreadsScope(int threads)
    : previous_(declared_compute_threads.exchange(std::max(1, threads))) {}

ComputeThreadsScope::~ComputeThreadsScope() {
  declared_compute_threads.store(previous_);
}

}  // namespace retort
