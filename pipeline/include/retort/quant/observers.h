// Range observers for post-training calibration: they see the values a QuantizeLinear will
// quantize and choose the clipping range [lo, hi] its scale and zero point cover.
//
//   minmax      the extremes seen (Jacob et al. 2018)
//   ema         a moving average of per-batch extremes (as QAT observers track ranges)
//   percentile  the p-th percentile of |x| (or of each tail), from a histogram: ignores outliers
//   mse         the clipping range that minimizes the expected squared quantization error
//               (clipping plus rounding) over the histogram of values seen
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "retort/core/status.h"

namespace retort::quant {

enum class ObserverKind { kMinMax, kEma, kPercentile, kMse };

const char* observer_name(ObserverKind kind);

// The integer code range [qmin, qmax] of a bit width: unsigned [0, 2^b - 1]; signed narrow
// [-(2^(b-1) - 1), 2^(b-1) - 1] when `symmetric` (so 0 sits in the middle), else
// [-2^(b-1), 2^(b-1) - 1].
struct CodeRange {
  int64_t qmin = 0, qmax = 255;
  static CodeRange of(int bits, bool is_signed, bool symmetric);
};

struct QParams {
  float scale = 1.0f;
  int64_t zero_point = 0;
};

// Scale and zero point covering [lo, hi] (widened to include 0, so that 0 is exact): with
// `symmetric`, zero point 0 and scale max(|lo|, |hi|) / qmax.
QParams qparams_for_range(float lo, float hi, CodeRange range, bool symmetric);

// Sum of squared errors of fake-quantizing `values` with `q` (for tests and MSE search).
double quantization_sse(std::span<const float> values, QParams q, CodeRange range);

class RangeObserver {
 public:
  struct Options {
    ObserverKind kind = ObserverKind::kMinMax;
    double percentile = 99.99;  // kPercentile
    float momentum = 0.1f;      // kEma
    int bins = 2048;            // kPercentile, kMse
  };
  RangeObserver(Options options, CodeRange range, bool symmetric);

  // One batch of values (called once per calibration batch).
  void observe(std::span<const float> values);
  bool empty() const { return count_ == 0; }
  // The chosen range: fails when nothing was observed.
  Expected<QParams> qparams() const;

 private:
  void rebin(float new_limit);
  Options options_;
  CodeRange range_;
  bool symmetric_;
  int64_t count_ = 0;
  float min_ = 0, max_ = 0;        // extremes (minmax), moving averages (ema)
  float limit_ = 0;                // the histogram covers [-limit_, limit_]
  std::vector<double> histogram_;  // counts per bin over [-limit_, limit_]
};

}  // namespace retort::quant
