#include "retort/quant/observers.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace retort::quant {

const char* observer_name(ObserverKind kind) {
  switch (kind) {
    case ObserverKind::kMinMax:
      return "minmax";
    case ObserverKind::kEma:
      return "ema";
    case ObserverKind::kPercentile:
      return "percentile";
    case ObserverKind::kMse:
      return "mse";
  }
  return "?";
}

CodeRange CodeRange::of(int bits, bool is_signed, bool symmetric) {
  const int64_t levels = int64_t{1} << bits;
  if (!is_signed) return {0, levels - 1};
  const int64_t half = levels / 2;
  return {symmetric ? -(half - 1) : -half, half - 1};
}

QParams qparams_for_range(float lo, float hi, CodeRange range, bool symmetric) {
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  const auto qmin = static_cast<float>(range.qmin), qmax = static_cast<float>(range.qmax);
  QParams q;
  if (symmetric) {
    q.scale = std::max(-lo, hi) / qmax;
    q.zero_point = 0;
  } else {
    q.scale = (hi - lo) / (qmax - qmin);
    if (q.scale > 0)
      q.zero_point =
          static_cast<int64_t>(std::clamp(std::nearbyint(qmin - lo / q.scale), qmin, qmax));
  }
  // All zeros: any scale represents them; 1 keeps the arithmetic finite.
  if (!(q.scale > std::numeric_limits<float>::min())) q.scale = 1.0f;
  return q;
}

namespace {

float fake_quant(float x, QParams q, CodeRange range) {
  const float code = std::clamp(std::nearbyint(x / q.scale) + static_cast<float>(q.zero_point),
                                static_cast<float>(range.qmin), static_cast<float>(range.qmax));
  return (code - static_cast<float>(q.zero_point)) * q.scale;
}

}  // namespace

double quantization_sse(std::span<const float> values, QParams q, CodeRange range) {
  double sse = 0;
  for (float v : values) {
    const double e = static_cast<double>(fake_quant(v, q, range)) - v;
    sse += e * e;
  }
  return sse;
}

RangeObserver::RangeObserver(Options options, CodeRange range, bool symmetric)
    : options_(options), range_(range), symmetric_(symmetric) {
  if (options_.kind == ObserverKind::kPercentile || options_.kind == ObserverKind::kMse)
    histogram_.assign(static_cast<size_t>(options_.bins), 0.0);
}

void RangeObserver::rebin(float new_limit) {
  // Double the covered range until it holds new_limit; each doubling merges bin pairs into
  // the middle half of the histogram, which is exact.
  const size_t bins = histogram_.size();
  while (limit_ < new_limit) {
    std::vector<double> merged(bins, 0.0);
    for (size_t b = 0; b < bins; ++b) merged[bins / 4 + b / 2] += histogram_[b];
    histogram_ = std::move(merged);
    limit_ *= 2.0f;
  }
}

void RangeObserver::observe(std::span<const float> values) {
  if (values.empty()) return;
  const auto [mn, mx] = std::minmax_element(values.begin(), values.end());
  if (options_.kind == ObserverKind::kEma && count_ > 0) {
    min_ += options_.momentum * (*mn - min_);
    max_ += options_.momentum * (*mx - max_);
  } else {
    min_ = count_ == 0 ? *mn : std::min(min_, *mn);
    max_ = count_ == 0 ? *mx : std::max(max_, *mx);
  }
  count_ += static_cast<int64_t>(values.size());
  if (histogram_.empty()) return;
  const float extent = std::max(std::abs(*mn), std::abs(*mx));
  if (limit_ == 0) limit_ = extent > 0 ? extent : 1.0f;
  if (extent > limit_) rebin(extent);
  const auto bins = static_cast<double>(histogram_.size());
  const double width = 2.0 * limit_ / bins;
  for (float v : values) {
    const auto b = static_cast<size_t>(std::clamp((v + limit_) / width, 0.0, bins - 1));
    histogram_[b] += 1.0;
  }
}

Expected<QParams> RangeObserver::qparams() const {
  if (count_ == 0)
    return make_error(ErrorCode::kInvalidArgument, "the observer saw no values to calibrate on");
  if (histogram_.empty()) return qparams_for_range(min_, max_, range_, symmetric_);
  const size_t bins = histogram_.size();
  const double width = 2.0 * limit_ / static_cast<double>(bins);
  const auto center = [&](size_t b) { return static_cast<float>(-limit_ + (b + 0.5) * width); };
  double total = 0;
  for (double c : histogram_) total += c;

  if (options_.kind == ObserverKind::kPercentile) {
    // The value below which `percentile` % of the samples lie, from each end.
    const double tail = total * (1.0 - options_.percentile / 100.0);
    double seen = 0;
    size_t lo_bin = 0, hi_bin = bins - 1;
    for (size_t b = 0; b < bins; ++b) {
      seen += histogram_[b];
      if (seen > tail) {
        lo_bin = b;
        break;
      }
    }
    seen = 0;
    for (size_t b = bins; b-- > 0;) {
      seen += histogram_[b];
      if (seen > tail) {
        hi_bin = b;
        break;
      }
    }
    const float lo = std::max(min_, static_cast<float>(-limit_ + lo_bin * width));
    const float hi = std::min(max_, static_cast<float>(-limit_ + (hi_bin + 1) * width));
    if (symmetric_) {
      const float a = std::max(-lo, hi);
      return qparams_for_range(-a, a, range_, true);
    }
    return qparams_for_range(lo, hi, range_, false);
  }

  // MSE: shrink the observed range towards 0 and keep the range with the least expected
  // squared error over the histogram (bin centres weighted by their counts).
  QParams best = qparams_for_range(min_, max_, range_, symmetric_);
  double best_sse = std::numeric_limits<double>::infinity();
  for (int step = 0; step < 100; ++step) {
    const float f = 1.0f - 0.009f * static_cast<float>(step);  // 1.0 down to 0.109
    const QParams q = qparams_for_range(f * min_, f * max_, range_, symmetric_);
    double sse = 0;
    for (size_t b = 0; b < bins; ++b) {
      if (histogram_[b] == 0) continue;
      const double e = static_cast<double>(fake_quant(center(b), q, range_)) - center(b);
      sse += histogram_[b] * e * e;
    }
    if (sse < best_sse) {
      best_sse = sse;
      best = q;
    }
  }
  return best;
}

}  // namespace retort::quant
