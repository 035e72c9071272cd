// Losses over a batch of logits [B, C]. Each returns the mean loss over the first `count` rows
// and ADDS scale * dLoss/dlogits into `grad` (when given), so several loss terms can share
// one gradient buffer (the plan zeroes it on each training forward). Rows past `count` (the
// padding of a last, partial batch) get no gradient.
#pragma once

#include <cstdint>

#include "retort/engine/kernel.h"

namespace retort::engine {

// Softmax cross-entropy with integer labels; label smoothing eps spreads eps/C over classes.
float cross_entropy(const View& logits, const int32_t* labels, int64_t count,
                    float label_smoothing = 0.0f, const View* grad = nullptr, float scale = 1.0f);

// Hinton et al.'s soft-target loss: KL(softmax(teacher/T) || softmax(student/T)) * T^2, so
// its gradient magnitude does not shrink as T grows.
float kl_divergence(const View& student_logits, const View& teacher_logits, float temperature,
                    int64_t count, const View* grad = nullptr, float scale = 1.0f);

// Mean squared error, mean over all elements of the first `count` rows.
float mse(const View& prediction, const View& target, int64_t count, const View* grad = nullptr,
          float scale = 1.0f);

// Number of rows of the first `count` whose arg-max equals the label.
int64_t count_correct(const View& logits, const int32_t* labels, int64_t count);

}  // namespace retort::engine
