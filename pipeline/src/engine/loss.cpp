#include "retort/engine/loss.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace retort::engine {
namespace {

// log-softmax of one row into out (double for a stable loss value).
void log_softmax_row(const float* x, int64_t n, float inv_t, double* out) {
  double mx = -INFINITY;
  for (int64_t j = 0; j < n; ++j) mx = std::max(mx, static_cast<double>(x[j]) * inv_t);
  double sum = 0;
  for (int64_t j = 0; j < n; ++j) sum += std::exp(x[j] * inv_t - mx);
  const double lse = mx + std::log(sum);
  for (int64_t j = 0; j < n; ++j) out[j] = x[j] * inv_t - lse;
}

constexpr int64_t kMaxClasses = 4096;

}  // namespace

float cross_entropy(const View& logits, const int32_t* labels, int64_t count, float label_smoothing,
                    const View* grad, float scale) {
  const int64_t c = logits.shape.back();
  assert(c <= kMaxClasses);
  double logp[kMaxClasses];
  double total = 0;
  const double off = label_smoothing / c;
  const double on = 1.0 - label_smoothing + off;
  for (int64_t i = 0; i < count; ++i) {
    const float* row = logits.data + i * c;
    log_softmax_row(row, c, 1.0f, logp);
    double loss = 0;
    for (int64_t j = 0; j < c; ++j) loss -= (j == labels[i] ? on : off) * logp[j];
    total += loss;
    if (grad != nullptr) {
      float* g = grad->data + i * c;
      const double k = scale / static_cast<double>(count);
      for (int64_t j = 0; j < c; ++j)
        g[j] += static_cast<float>(k * (std::exp(logp[j]) - (j == labels[i] ? on : off)));
    }
  }
  return count > 0 ? static_cast<float>(total / count) : 0.0f;
}

float kl_divergence(const View& student_logits, const View& teacher_logits, float temperature,
                    int64_t count, const View* grad, float scale) {
  const int64_t c = student_logits.shape.back();
  assert(c <= kMaxClasses && teacher_logits.shape.back() == c);
  double ls[kMaxClasses], lt[kMaxClasses];
  const float inv_t = 1.0f / temperature;
  const double t2 = static_cast<double>(temperature) * temperature;
  double total = 0;
  for (int64_t i = 0; i < count; ++i) {
    log_softmax_row(student_logits.data + i * c, c, inv_t, ls);
    log_softmax_row(teacher_logits.data + i * c, c, inv_t, lt);
    double kl = 0;
    for (int64_t j = 0; j < c; ++j) kl += std::exp(lt[j]) * (lt[j] - ls[j]);
    total += kl * t2;
    if (grad != nullptr) {
      // d/ds_j of T^2 * KL = T * (p_s - p_t)
      float* g = grad->data + i * c;
      const double k = scale * static_cast<double>(temperature) / static_cast<double>(count);
      for (int64_t j = 0; j < c; ++j)
        g[j] += static_cast<float>(k * (std::exp(ls[j]) - std::exp(lt[j])));
    }
  }
  return count > 0 ? static_cast<float>(total / count) : 0.0f;
}

float mse(const View& prediction, const View& target, int64_t count, const View* grad,
          float scale) {
  const int64_t row = prediction.shape.empty() ? 1 : prediction.numel() / prediction.shape[0];
  const int64_t n = row * count;
  double total = 0;
  for (int64_t k = 0; k < n; ++k) {
    const double d = static_cast<double>(prediction.data[k]) - target.data[k];
    total += d * d;
  }
  if (grad != nullptr && n > 0) {
    const float k2 = 2.0f * scale / static_cast<float>(n);
    for (int64_t k = 0; k < n; ++k) grad->data[k] += k2 * (prediction.data[k] - target.data[k]);
  }
  return n > 0 ? static_cast<float>(total / n) : 0.0f;
}

int64_t count_correct(const View& logits, const int32_t* labels, int64_t count) {
  const int64_t c = logits.shape.back();
  int64_t correct = 0;
  for (int64_t i = 0; i < count; ++i) {
    const float* row = logits.data + i * c;
    correct += (std::max_element(row, row + c) - row) == labels[i] ? 1 : 0;
  }
  return correct;
}

}  // namespace retort::engine
