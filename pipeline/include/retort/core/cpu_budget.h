// How many CPUs this process may use, and how many of them its compute (the OpenMP teams of
// the stages running at once) keeps busy. Helpers such as the batch loader's prefetch worker
// read this to decide whether a core is left for them: on a machine whose cores are all
// computing, an extra thread only preempts a compute thread and makes its team wait.
#pragma once

namespace retort {

// CPUs in this process's affinity mask (taskset, cgroup cpusets); at least 1.
int usable_cpus();

// Threads that compute in this process: the total declared by the innermost live
// ComputeThreadsScope, else omp_get_max_threads() of the calling thread.
int compute_threads();

// Declares, for its lifetime, how many threads all concurrently running compute uses
// (e.g. the executor: stages at once x OpenMP threads per stage). Scopes nest, and end in the
// reverse order of their start: one process-wide value, so two runs overlapping on different
// threads would restore each other's. The CLI runs one recipe at a time.
class ComputeThreadsScope {
 public:
  explicit ComputeThreadsScope(int threads);
  ~ComputeThreadsScope();
  ComputeThreadsScope(const ComputeThreadsScope&) = delete;
  ComputeThreadsScope& operator=(const ComputeThreadsScope&) = delete;

 private:
  int previous_;
};

}  // namespace retort
