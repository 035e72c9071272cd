#include "retort/core/cpu_budget.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <thread>

namespace retort {
namespace {

TEST(CpuBudget, UsableCpusIsWithinTheMachine) {
  EXPECT_GE(usable_cpus(), 1);
  const auto hardware = static_cast<int>(std::thread::hardware_concurrency());
  if (hardware > 0) {
    EXPECT_LE(usable_cpus(), hardware);
  }
}

TEST(CpuBudget, ComputeThreadsIsTheDeclaredTotalElseTheCallersTeam) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(3);
  EXPECT_EQ(compute_threads(), 3);
  {
    const ComputeThreadsScope outer(4);
    EXPECT_EQ(compute_threads(), 4);
    {
      const ComputeThreadsScope inner(6);
      EXPECT_EQ(compute_threads(), 6);
    }
    EXPECT_EQ(compute_threads(), 4);
    // Process-wide: a stage's thread sees what the executor's thread declared.
    int seen = 0;
    std::thread([&] { seen = compute_threads(); }).join();
    EXPECT_EQ(seen, 4);
  }
  EXPECT_EQ(compute_threads(), 3);
  omp_set_num_threads(saved);
}

}  // namespace
}  // namespace retort
