// Range observers: code ranges per bit width, scale and zero point arithmetic, and what each
// calibration method chooses on data with outliers.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "retort/quant/observers.h"
#include "support/test_support.h"

namespace retort::quant {
namespace {

TEST(QuantObservers, CodeRangesPerBitWidth) {
  EXPECT_EQ(CodeRange::of(8, false, false).qmax, 255);
  EXPECT_EQ(CodeRange::of(8, true, true).qmin, -127);
  EXPECT_EQ(CodeRange::of(8, true, false).qmin, -128);
  EXPECT_EQ(CodeRange::of(4, true, true).qmin, -7);
  EXPECT_EQ(CodeRange::of(4, true, true).qmax, 7);
  EXPECT_EQ(CodeRange::of(2, false, false).qmax, 3);
}

TEST(QuantObservers, QParamsMakeZeroExactAndCoverTheRange) {
  const QParams a = qparams_for_range(-1.0f, 3.0f, CodeRange::of(8, false, false), false);
  EXPECT_FLOAT_EQ(a.scale, 4.0f / 255.0f);
  EXPECT_EQ(a.zero_point, 64);
  // A range that excludes 0 is widened to include it.
  const QParams b = qparams_for_range(2.0f, 3.0f, CodeRange::of(8, false, false), false);
  EXPECT_EQ(b.zero_point, 0);
  EXPECT_FLOAT_EQ(b.scale, 3.0f / 255.0f);
  const QParams c = qparams_for_range(-0.5f, 2.54f, CodeRange::of(8, true, true), true);
  EXPECT_EQ(c.zero_point, 0);
  EXPECT_FLOAT_EQ(c.scale, 2.54f / 127.0f);
  const QParams zeros = qparams_for_range(0.0f, 0.0f, CodeRange::of(8, false, false), false);
  EXPECT_EQ(zeros.scale, 1.0f);
}

std::vector<float> gaussian_with_outlier(int n) {
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  v[0] = 60.0f;  // one outlier
  return v;
}

QParams observe_all(ObserverKind kind, const std::vector<float>& v, CodeRange r) {
  RangeObserver::Options o;
  o.kind = kind;
  o.percentile = 99.9;
  RangeObserver obs(o, r, false);
  // Two batches, the extreme last: the histogram must grow its range when it arrives.
  obs.observe({v.data() + 1, v.size() - 1});
  obs.observe({v.data(), 1});
  auto q = obs.qparams();
  EXPECT_TRUE(q.ok()) << q.status().message();
  return q.ok() ? *q : QParams{};
}

TEST(QuantObservers, PercentileClipsTheOutlierMinMaxKeepsIt) {
  const std::vector<float> v = gaussian_with_outlier(20000);
  const CodeRange r = CodeRange::of(8, true, false);
  // minmax covers 60: a step of about (60 + 4) / 255.
  EXPECT_GT(observe_all(ObserverKind::kMinMax, v, r).scale * 255.0f, 60.0f);
  // 99.9% of a unit Gaussian lies within about +-3.3.
  const QParams p = observe_all(ObserverKind::kPercentile, v, r);
  EXPECT_LT(p.scale * 255.0f, 8.0f);
  EXPECT_GT(p.scale * 255.0f, 5.0f);
}

TEST(QuantObservers, MseClipsTheTailsWhereRoundingCostsMore) {
  // At 4 bits the steps of the full range are coarse: clipping the Gaussian's rare tails
  // buys finer steps for everything else. (At 8 bits one outlier's clipping error outweighs
  // the rounding gain, and MSE rightly keeps the full range: checked below too.)
  std::vector<float> v = gaussian_with_outlier(20000);
  v[0] = 0.0f;
  const CodeRange r4 = CodeRange::of(4, true, false);
  const QParams minmax = observe_all(ObserverKind::kMinMax, v, r4);
  const QParams mse = observe_all(ObserverKind::kMse, v, r4);
  EXPECT_LT(mse.scale, 0.8f * minmax.scale);
  EXPECT_LT(quantization_sse(v, mse, r4), 0.7 * quantization_sse(v, minmax, r4));
  const std::vector<float> outlier = gaussian_with_outlier(20000);
  const CodeRange r8 = CodeRange::of(8, true, false);
  EXPECT_LE(quantization_sse(outlier, observe_all(ObserverKind::kMse, outlier, r8), r8),
            quantization_sse(outlier, observe_all(ObserverKind::kMinMax, outlier, r8), r8));
}

TEST(QuantObservers, EmaFollowsBatchesAndEmptyObserverIsAnError) {
  RangeObserver::Options o;
  o.kind = ObserverKind::kEma;
  o.momentum = 0.5f;
  RangeObserver ema(o, CodeRange::of(8, false, false), false);
  const std::vector<float> a = {0.0f, 2.0f}, b = {0.0f, 4.0f};
  ema.observe(a);
  ema.observe(b);
  auto q = ema.qparams();
  ASSERT_TRUE(q.ok());
  EXPECT_FLOAT_EQ(q->scale, 3.0f / 255.0f);
  RangeObserver empty(o, CodeRange::of(8, false, false), false);
  auto none = empty.qparams();
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(test_support::contains(none.status().message(), "saw no values"));
}

}  // namespace
}  // namespace retort::quant
