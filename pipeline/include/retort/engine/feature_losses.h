// Feature-level distillation losses: the student matches the teacher's intermediate values
// (hints, attention maps, relations between samples, flow between layers) rather than only
// its logits. Host-side code over plan buffers (plain loops, and oneDNN's sgemm for the
// O(B^2 D) matrix products), with analytic gradients.
//
// Conventions (the same as loss.h): inputs are batch-first, row-major; only the first `count`
// rows take part (rows past it are the padding of a last, partial batch: they neither change
// the loss nor get gradient). Each function returns the loss and ADDS scale * dLoss/dStudent
// into `grad` when it is given, so several terms can share one gradient buffer. The teacher
// side never gets gradient. Loss values are accumulated in double.
//
// Degenerate directions: where a term normalises a vector (cosine, attention maps, RKD angles)
// a vector whose norm is at most kFeatureLossEps is taken as the zero vector and passes no
// gradient. A clamp-style guard (x / max(|x|, eps), as F.normalize does) has the same values
// up to that tiny ball but a gradient of size 1/eps there, which would wreck a training step
// whenever two student embeddings coincide or a feature row is all zero.
//
// Shape mismatches are caller bugs (recipe validation reports the user error): they assert.
#pragma once

#include <cstdint>
#include <vector>

#include "retort/engine/kernel.h"

namespace retort::engine {

inline constexpr double kFeatureLossEps = 1e-8;

// FitNets (Romero et al., ICLR 2015) hint loss: mean squared error over all elements of the
// first `count` rows, mean over count * per_row elements (exactly mse() of loss.h). Student
// and teacher must have the same per-row size (a regressor adapts the student upstream).
float hint_mse(const View& student, const View& teacher, int64_t count, const View* grad = nullptr,
               float scale = 1.0f);

// Per-row 1 - cos(s_b, t_b) of the flattened rows, mean over the first `count` rows. Matches
// direction only, so it is insensitive to the student's feature scale. Same per-row size.
float hint_cosine(const View& student, const View& teacher, int64_t count,
                  const View* grad = nullptr, float scale = 1.0f);

// Attention transfer (Zagoruyko & Komodakis, ICLR 2017), activation-based. Inputs [B, C, ...]
// with the same spatial size (product of the dims after C); channel counts may differ; p >= 1.
//   Q[b, x] = sum_c |a[b, c, x]|^p,   q[b, :] = Q[b, :] / ||Q[b, :]||_2
//   loss = mean over b < count and x of (q_s - q_t)^2
// as the authors' code `(at(x) - at(y)).pow(2).mean()` (its mean over c instead of the sum
// cancels in the normalisation). Uses a per-thread scratch of 2 * spatial doubles, allocated
// on the first call and grown only when a larger spatial size appears.
float attention_transfer(const View& student, const View& teacher, int64_t count, float p = 2.0f,
                         const View* grad = nullptr, float scale = 1.0f);

// Relational KD (Park et al., CVPR 2019) on embeddings [B, D] (more dims are flattened per
// row; student and teacher D may differ). Uses the first `count` rows as the set of samples.
// Holds the scratch (centred copies, Gram matrices) so the step loop does not allocate:
// create it once with the largest batch and the row sizes of the two values. Both terms work
// through the Gram matrices of the batch-centred rows (oneDNN sgemm, float32; the loss sees
// differences only, so centring changes nothing but rounding): O(B^2 D + B^3) per call.
// Two rows closer than the float32 Gram matrix can resolve (|e_a - e_b|^2 below about
// 1e-6 sqrt(D) (|c_a|^2 + |c_b|^2), c the centred rows) count as coincident: distance 0,
// no direction, no gradient through that pair. Not thread-safe (one object per user).
class RkdLoss {
 public:
  RkdLoss(int64_t max_batch, int64_t student_dim, int64_t teacher_dim);

  // Distance-wise: psi(i, j) = ||e_i - e_j|| / mu, mu = mean of ||e_i - e_j|| over i != j,
  // separately for student and teacher; loss = mean over ordered pairs i != j of
  // smooth_l1(psi_s - psi_t) (Huber, delta 1). The gradient flows through mu, as in the
  // reference code. (That code averages over all B^2 entries including the zero diagonal,
  // i.e. (B - 1) / B times this value.) mu <= eps (all rows equal) gives psi = 0.
  float distance(const View& student, const View& teacher, int64_t count,
                 const View* grad = nullptr, float scale = 1.0f);

  // Angle-wise: for every (j, i, k), cos = <normalize(e_i - e_j), normalize(e_k - e_j)>
  // (0 when i == j or k == j); loss = mean over all B^3 entries of smooth_l1(cos_s - cos_t),
  // as the reference code's smooth_l1_loss over its [B, B, B] angle tensor.
  float angle(const View& student, const View& teacher, int64_t count, const View* grad = nullptr,
              float scale = 1.0f);

 private:
  // Centres the first n rows of e (row size d, minus their mean) into c and puts the Gram
  // matrix of the centred rows into g (n x n, row stride n).
  void centred_gram(const float* e, int64_t n, int64_t d, float* c, double* g);
  // grad[a, :] += scale * sum_{b != a} w[a, b] * (c[a, :] - c[b, :]) over the first n rows.
  void add_pairwise(const double* w, const float* c, int64_t n, int64_t d, float scale,
                    float* grad);

  int64_t max_batch_, student_dim_, teacher_dim_;
  std::vector<float> centred_s_, centred_t_;  // max_batch x dim
  std::vector<double> mean_;                  // max(dims)
  std::vector<float> weights_;                // max_batch^2: sgemm output and input
  // max_batch^2 each:
  std::vector<double> gram_s_, gram_t_, coef_, rinv_s_, rinv_t_, row_sums_, diag_sums_;
  std::vector<double> diag_s_, diag_t_;  // max_batch each
};

// Flow of Solution Procedure (Yim et al., CVPR 2017). Two feature maps of one network, F1
// [B, C1, ...] and F2 [B, C2, ...] with the same spatial size HW, give the FSP matrix
//   G[b, i, j] = sum_x F1[b, i, x] * F2[b, j, x] / HW;
// loss = mean over b < count and (i, j) of (G_s - G_t)^2 (the paper's squared Frobenius norm,
// divided by C1 * C2 so the weight does not depend on the widths). Student and teacher must
// agree in C1, C2 and HW. Holds the two C1 x C2 scratch matrices; not thread-safe. The
// products go through oneDNN's sgemm (float32), per sample.
class FspLoss {
 public:
  FspLoss(int64_t c1, int64_t c2);

  // Adds the gradient into grad_a (w.r.t. s_a) and grad_b (w.r.t. s_b); either may be null.
  // When s_a and s_b are the same buffer, pass the same gradient view twice: both
  // contributions are added.
  float compute(const View& s_a, const View& s_b, const View& t_a, const View& t_b, int64_t count,
                const View* grad_a = nullptr, const View* grad_b = nullptr, float scale = 1.0f);

 private:
  int64_t c1_, c2_;
  std::vector<float> g_s_, g_t_;
};

}  // namespace retort::engine
