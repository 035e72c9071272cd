// Checks one op three ways (after ggml's test-backend-ops): forward values against a
// reference the test computes, backward against central finite differences, and (in bench/)
// speed. The op runs through a real engine::Plan built from a one-node model.
#pragma once

#include <omp.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "retort/core/tensor.h"
#include "retort/engine/plan.h"
#include "retort/graph/model.h"

namespace retort::testing {

struct OpCase {
  Node node;                   // node.inputs / node.outputs name the values
  std::vector<Tensor> inputs;  // one per node input: float32 tensors become graph inputs,
                               // other dtypes become initializers (compile-time constants);
                               // an empty Tensor for an omitted optional input ("" name)
};

// A one-node model: float inputs are graph inputs with fixed shapes, others initializers.
Model make_single_op_model(const OpCase& c);

// Forward through a plan; returns a copy of every node output.
std::vector<Tensor> run_op(const OpCase& c, bool training = false);

// For a random R (fixed seed), compares d(sum_k out_k * R_k)/d(input) computed by the plan's
// backward with central finite differences (in double) for every float32 input. Reports the
// worst element on failure. `tol` bounds |analytic - numeric| / max(1, |numeric|).
void expect_gradients_match_fd(const OpCase& c, double eps = 1e-3, double tol = 2e-2,
                               bool training = false);

// Uniform values in [lo, hi), deterministic for a seed.
Tensor random_tensor(Shape shape, uint64_t seed, float lo = -1.0f, float hi = 1.0f);

// Plan::compile, failing the test (with the error) and returning null when it fails.
std::unique_ptr<engine::Plan> compile_or_fail(Model& model, const engine::PlanOptions& options);

// A copy of a plan buffer's values.
std::vector<float> values_of(const engine::View& view);

// Same shape, and every |actual - expected| <= tol * (1 + |expected|).
void expect_near(const Tensor& actual, const Tensor& expected, float tol = 1e-5f);

// OpenMP threads for a scope, restored when it ends (also when an assertion returns early):
// some kernels choose how to split their work by the thread count at compile time.
class ScopedOmpThreads {
 public:
  explicit ScopedOmpThreads(int threads) : saved_(omp_get_max_threads()) {
    if (threads > 0) omp_set_num_threads(threads);
  }
  ~ScopedOmpThreads() { omp_set_num_threads(saved_); }
  ScopedOmpThreads(const ScopedOmpThreads&) = delete;
  ScopedOmpThreads& operator=(const ScopedOmpThreads&) = delete;

 private:
  int saved_;
};

}  // namespace retort::testing
