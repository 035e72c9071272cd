#include "retort/distill/soft_targets.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numbers>

namespace retort::distill {
namespace {

// softmax(x / T) of one row into out; returns nothing, rows are short (classes).
void softmax_row(const float* x, int64_t n, float temperature, double* out) {
  double mx = -INFINITY;
  for (int64_t j = 0; j < n; ++j) mx = std::max(mx, static_cast<double>(x[j]) / temperature);
  double sum = 0;
  for (int64_t j = 0; j < n; ++j)
    sum += out[j] = std::exp(x[j] / static_cast<double>(temperature) - mx);
  for (int64_t j = 0; j < n; ++j) out[j] /= sum;
}

constexpr int64_t kMaxClasses = 4096;

}  // namespace

float Temperature::at(double progress) const {
  progress = std::clamp(progress, 0.0, 1.0);
  switch (schedule) {
    case Schedule::kConstant:
      return start;
    case Schedule::kLinear:
      return static_cast<float>(start + (end - start) * progress);
    case Schedule::kCosine:
      return static_cast<float>(end + (start - end) * 0.5 *
                                          (1.0 + std::cos(std::numbers::pi * progress)));
  }
  return start;
}

Expected<Temperature::Schedule> parse_temperature_schedule(const std::string& name) {
  if (name == "constant") return Temperature::Schedule::kConstant;
  if (name == "linear") return Temperature::Schedule::kLinear;
  if (name == "cosine") return Temperature::Schedule::kCosine;
  return make_error(ErrorCode::kInvalidArgument, "unknown temperature schedule '", name,
                    "'; use constant, linear or cosine");
}

Expected<TeacherMix> parse_teacher_mix(const std::string& name) {
  if (name == "mean") return TeacherMix::kMean;
  if (name == "weighted") return TeacherMix::kWeighted;
  if (name == "confidence") return TeacherMix::kConfidence;
  return make_error(ErrorCode::kInvalidArgument, "unknown teacher mix '", name,
                    "'; use mean, weighted or confidence");
}

SoftTargets::SoftTargets(int64_t batch, int64_t classes)
    : probs_(static_cast<size_t>(batch * classes), 0.0f), row_weights_(64, 0.0) {
  view_ = View{probs_.data(), {batch, classes}};
}

void SoftTargets::compute(std::span<const View> teacher_logits, float temperature, TeacherMix mix,
                          std::span<const float> weights, int64_t count) {
  assert(!teacher_logits.empty() && teacher_logits.size() <= row_weights_.size());
  const int64_t c = view_.shape[1];
  assert(c <= kMaxClasses);
  const size_t k = teacher_logits.size();
  double p[kMaxClasses], acc[kMaxClasses];
  double fixed_total = 0;
  for (size_t t = 0; t < k; ++t) fixed_total += mix == TeacherMix::kWeighted ? weights[t] : 1.0;
  for (int64_t i = 0; i < count; ++i) {
    double total = 0;
    for (size_t t = 0; t < k; ++t) {
      const float* row = teacher_logits[t].data + i * c;
      double w =
          mix == TeacherMix::kWeighted ? weights[t] / fixed_total : 1.0 / static_cast<double>(k);
      if (mix == TeacherMix::kConfidence) {
        softmax_row(row, c, 1.0f, p);
        w = *std::max_element(p, p + c);
      }
      row_weights_[t] = w;
      total += w;
    }
    std::fill(acc, acc + c, 0.0);
    for (size_t t = 0; t < k; ++t) {
      softmax_row(teacher_logits[t].data + i * c, c, temperature, p);
      const double w = row_weights_[t] / total;
      for (int64_t j = 0; j < c; ++j) acc[j] += w * p[j];
    }
    float* out = probs_.data() + i * c;
    for (int64_t j = 0; j < c; ++j) out[j] = static_cast<float>(acc[j]);
  }
}

float soft_target_loss(const View& student_logits, const View& target, float temperature,
                       int64_t count, const View* grad, float scale) {
  const int64_t c = student_logits.shape.back();
  assert(c <= kMaxClasses && target.shape.back() == c);
  double q[kMaxClasses];
  const double t2 = static_cast<double>(temperature) * temperature;
  double total = 0;
  for (int64_t i = 0; i < count; ++i) {
    softmax_row(student_logits.data + i * c, c, temperature, q);
    const float* p = target.data + i * c;
    double kl = 0;
    for (int64_t j = 0; j < c; ++j)
      if (p[j] > 0)
        kl += p[j] * (std::log(static_cast<double>(p[j])) - std::log(std::max(q[j], 1e-300)));
    total += kl * t2;
    if (grad != nullptr) {
      // d(T^2 KL)/dz = T^2 * (q - p) / T
      const double k = scale * static_cast<double>(temperature) / static_cast<double>(count);
      float* g = grad->data + i * c;
      for (int64_t j = 0; j < c; ++j) g[j] += static_cast<float>(k * (q[j] - p[j]));
    }
  }
  return count > 0 ? static_cast<float>(total / count) : 0.0f;
}

}  // namespace retort::distill
