// Shared by the benchmark binaries: setup failures end the run loudly, the Fashion-MNIST
// training images, and the process's peak RSS.
#pragma once

#include <errno.h>  // program_invocation_short_name (glibc)
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>

#include "retort/core/status.h"
#include "retort/data/dataset.h"
#include "retort/data/fashion_mnist.h"

namespace retort::bench {

// The value, or a message naming the benchmark binary and `what` failed, and exit 1.
template <typename T>
T or_die(Expected<T> e, const char* what) {
  if (!e.ok()) {
    std::fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
                 e.status().message().c_str());
    std::exit(1);
  }
  return std::move(e).value();
}

// The first `count` training images ($RETORT_FASHION_MNIST_DIR or the Debian package's folder).
inline data::Dataset fashion_train_slice(int64_t count) {
  auto all = or_die(data::load_fashion_mnist(data::Split::kTrain), "loading Fashion-MNIST");
  return or_die(data::slice(all, 0, count), "slicing Fashion-MNIST");
}

inline double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

}  // namespace retort::bench
