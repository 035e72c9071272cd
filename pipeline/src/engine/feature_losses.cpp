#include "retort/engine/feature_losses.h"

#include <algorithm>
#include <cassert>
#include <cmath>

#include "oneapi/dnnl/dnnl.h"
#include "retort/engine/loss.h"

namespace retort::engine {
namespace {

constexpr double kEps = kFeatureLossEps;

// C = alpha * op(A) op(B) + beta * C, row-major. oneDNN's sgemm (vectorised and threaded for
// the CPU it runs on) does the O(B^2 D) products of RKD and FSP: plain loops were 30 to 50
// times slower for B = 256, D = 4096.
void gemm(char ta, char tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const dnnl_status_t status = dnnl_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  assert(status == dnnl_success);
  (void)status;
}

// Relative rounding noise of a float32 Gram matrix entry over d terms, as a fraction of
// G_aa + G_bb: squared distances |e_a - e_b|^2 = G_aa + G_bb - 2 G_ab below it carry no
// information (their direction is rounding noise), so such pairs count as coincident.
double gram_noise(int64_t d) {
  return 1e-6 * std::sqrt(static_cast<double>(std::max<int64_t>(d, 1)));
}

int64_t row_size(const View& v) {
  return v.shape.empty() ? 1 : v.numel() / v.shape[0];
}

// Spatial size of a [B, C, ...] value: the product of the dims after C (1 for [B, C]).
int64_t spatial_size(const View& v) {
  assert(v.shape.size() >= 2 && v.shape[1] > 0);
  return row_size(v) / v.shape[1];
}

double dot(const float* a, const float* b, int64_t n) {
  double acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t k = 0; k < n; ++k) acc += static_cast<double>(a[k]) * b[k];
  return acc;
}

// Huber / smooth-L1 with delta 1 and its derivative, branch-free so that the RKD angle loop
// (B^3 / 2 entries) vectorises: with c = clamp(x, -1, 1), the loss is c (x - c / 2) and the
// derivative c. The clamp is written with fabs because GCC does not if-convert floating-point
// comparisons under the default -ftrapping-math (it is exact up to one rounding, ~1e-16).
inline double smooth_l1_grad(double x) {
  return 0.5 * (std::abs(x + 1.0) - std::abs(x - 1.0));
}
inline double smooth_l1(double x) {
  const double c = smooth_l1_grad(x);
  return c * (x - 0.5 * c);
}

// Attention map of one row [C, HW] into q (HW), normalised to unit L2 norm (zero when the
// norm is at most eps). Returns the norm before normalisation.
double attention_map(const float* a, int64_t c, int64_t hw, float p, double* q) {
  std::fill(q, q + hw, 0.0);
  for (int64_t ch = 0; ch < c; ++ch) {
    const float* row = a + ch * hw;
    if (p == 2.0f) {
#pragma omp simd
      for (int64_t x = 0; x < hw; ++x) q[x] += static_cast<double>(row[x]) * row[x];
    } else {
      for (int64_t x = 0; x < hw; ++x) q[x] += std::pow(std::abs(static_cast<double>(row[x])), p);
    }
  }
  double sq = 0;
  for (int64_t x = 0; x < hw; ++x) sq += q[x] * q[x];
  const double norm = std::sqrt(sq);
  const double inv = norm > kEps ? 1.0 / norm : 0.0;
  for (int64_t x = 0; x < hw; ++x) q[x] *= inv;
  return norm;
}

}  // namespace

float hint_mse(const View& student, const View& teacher, int64_t count, const View* grad,
               float scale) {
  assert(row_size(student) == row_size(teacher));
  return mse(student, teacher, count, grad, scale);
}

float hint_cosine(const View& student, const View& teacher, int64_t count, const View* grad,
                  float scale) {
  const int64_t d = row_size(student);
  assert(row_size(teacher) == d);
  if (count <= 0) return 0.0f;
  double total = 0;
  for (int64_t b = 0; b < count; ++b) {
    const float* s = student.data + b * d;
    const float* t = teacher.data + b * d;
    const double ss = dot(s, s, d), tt = dot(t, t, d), st = dot(s, t, d);
    const double ns = std::sqrt(ss), nt = std::sqrt(tt);
    if (ns <= kEps || nt <= kEps) {  // direction undefined: cos taken as 0, no gradient
      total += 1.0;
      continue;
    }
    const double cos = st / (ns * nt);
    total += 1.0 - cos;
    if (grad != nullptr) {
      // d(1 - cos)/ds = -t / (|s| |t|) + cos * s / |s|^2
      const double k = scale / static_cast<double>(count);
      const double kt = -k / (ns * nt), ks = k * cos / ss;
      float* g = grad->data + b * d;
      for (int64_t x = 0; x < d; ++x) g[x] += static_cast<float>(kt * t[x] + ks * s[x]);
    }
  }
  return static_cast<float>(total / count);
}

float attention_transfer(const View& student, const View& teacher, int64_t count, float p,
                         const View* grad, float scale) {
  const int64_t hw = spatial_size(student);
  assert(spatial_size(teacher) == hw);
  assert(p >= 1.0f);
  if (count <= 0 || hw <= 0) return 0.0f;
  const int64_t cs = student.shape[1], ct = teacher.shape[1];
  thread_local std::vector<double> scratch;
  if (scratch.size() < static_cast<size_t>(2 * hw)) scratch.resize(2 * hw);
  double* qs = scratch.data();
  double* qt = qs + hw;
  double total = 0;
  for (int64_t b = 0; b < count; ++b) {
    const float* s = student.data + b * cs * hw;
    const double norm_s = attention_map(s, cs, hw, p, qs);
    attention_map(teacher.data + b * ct * hw, ct, hw, p, qt);
    double row = 0, gq = 0;
    for (int64_t x = 0; x < hw; ++x) {
      const double diff = qs[x] - qt[x];
      row += diff * diff;
      gq += diff * qs[x];
    }
    total += row;
    if (grad == nullptr || norm_s <= kEps) continue;
    // With g = dL/dq_s = 2 (q_s - q_t) / (count * HW), through q = Q / |Q|:
    // dL/dQ = (g - q_s <g, q_s>) / |Q|; then dQ/da = p * sign(a) * |a|^(p - 1).
    const double k = 2.0 * scale / (static_cast<double>(count) * hw * norm_s);
    double* dq = qt;  // the teacher map is no longer needed
    for (int64_t x = 0; x < hw; ++x) dq[x] = k * ((qs[x] - qt[x]) - qs[x] * gq);
    float* g = grad->data + b * cs * hw;
    for (int64_t ch = 0; ch < cs; ++ch) {
      const float* a = s + ch * hw;
      float* gr = g + ch * hw;
      if (p == 2.0f) {
#pragma omp simd
        for (int64_t x = 0; x < hw; ++x) gr[x] += static_cast<float>(2.0 * dq[x] * a[x]);
      } else {
        for (int64_t x = 0; x < hw; ++x) {
          if (a[x] == 0) continue;
          const double v = a[x];
          const double da = p * std::pow(std::abs(v), p - 1.0) * (v > 0 ? 1.0 : -1.0);
          gr[x] += static_cast<float>(dq[x] * da);
        }
      }
    }
  }
  return static_cast<float>(total / (static_cast<double>(count) * hw));
}

// ---- RKD --------------------------------------------------------------------------------

RkdLoss::RkdLoss(int64_t max_batch, int64_t student_dim, int64_t teacher_dim)
    : max_batch_(max_batch),
      student_dim_(student_dim),
      teacher_dim_(teacher_dim),
      centred_s_(max_batch * student_dim),
      centred_t_(max_batch * teacher_dim),
      mean_(std::max(student_dim, teacher_dim)),
      weights_(max_batch * max_batch),
      gram_s_(max_batch * max_batch),
      gram_t_(max_batch * max_batch),
      coef_(max_batch * max_batch),
      rinv_s_(max_batch * max_batch),
      rinv_t_(max_batch * max_batch),
      row_sums_(max_batch * max_batch),
      diag_sums_(max_batch * max_batch),
      diag_s_(max_batch),
      diag_t_(max_batch) {}

void RkdLoss::centred_gram(const float* e, int64_t n, int64_t d, float* c, double* g) {
  // Both terms see differences only; centring keeps the Gram matrix's rounding relative to
  // the spread of the batch rather than to a common offset (post-ReLU features have one).
  double* mean = mean_.data();
  std::fill(mean, mean + d, 0.0);
  for (int64_t a = 0; a < n; ++a)
    for (int64_t x = 0; x < d; ++x) mean[x] += e[a * d + x];
  for (int64_t x = 0; x < d; ++x) mean[x] /= static_cast<double>(n);
  for (int64_t a = 0; a < n; ++a)
    for (int64_t x = 0; x < d; ++x) c[a * d + x] = static_cast<float>(e[a * d + x] - mean[x]);
  float* gf = weights_.data();
  gemm('N', 'T', n, n, d, 1.0f, c, d, c, d, 0.0f, gf, n);
  for (int64_t a = 0; a < n; ++a)
    for (int64_t b = 0; b < n; ++b)
      g[a * n + b] = 0.5 * (static_cast<double>(gf[a * n + b]) + gf[b * n + a]);
}

void RkdLoss::add_pairwise(const double* w, const float* c, int64_t n, int64_t d, float scale,
                           float* grad) {
  // sum_{b != a} w_ab (c_a - c_b) = (sum_b w_ab) c_a - sum_{b != a} w_ab c_b: one product
  // with the matrix whose off-diagonal is -w and whose diagonal holds the row sums.
  float* m = weights_.data();
  for (int64_t a = 0; a < n; ++a) {
    double sum = 0;
    for (int64_t b = 0; b < n; ++b) {
      if (b == a) continue;
      sum += w[a * n + b];
      m[a * n + b] = static_cast<float>(-w[a * n + b]);
    }
    m[a * n + a] = static_cast<float>(sum);
  }
  gemm('N', 'N', n, d, n, scale, m, n, c, d, 1.0f, grad, d);
}

float RkdLoss::distance(const View& student, const View& teacher, int64_t count, const View* grad,
                        float scale) {
  const int64_t n = count, ds = row_size(student), dt = row_size(teacher);
  assert(n <= max_batch_ && ds == student_dim_ && dt == teacher_dim_);
  if (n < 2) return 0.0f;
  double* gs = gram_s_.data();
  double* gt = gram_t_.data();
  centred_gram(student.data, n, ds, centred_s_.data(), gs);
  centred_gram(teacher.data, n, dt, centred_t_.data(), gt);
  // Distances in place of the Gram matrices: |e_a - e_b|^2 = G_aa + G_bb - 2 G_ab.
  const double noise_s = gram_noise(ds), noise_t = gram_noise(dt);
  for (int64_t a = 0; a < n; ++a) {
    diag_s_[a] = gs[a * n + a];
    diag_t_[a] = gt[a * n + a];
  }
  double sum_s = 0, sum_t = 0;
  for (int64_t a = 0; a < n; ++a)
    for (int64_t b = 0; b < n; ++b) {
      double& s = gs[a * n + b];
      double& t = gt[a * n + b];
      const double s2 = diag_s_[a] + diag_s_[b] - 2 * s, t2 = diag_t_[a] + diag_t_[b] - 2 * t;
      s = a == b || s2 <= noise_s * (diag_s_[a] + diag_s_[b]) ? 0.0 : std::sqrt(s2);
      t = a == b || t2 <= noise_t * (diag_t_[a] + diag_t_[b]) ? 0.0 : std::sqrt(t2);
      sum_s += s;
      sum_t += t;
    }
  const double pairs = static_cast<double>(n) * (n - 1);
  const double mu_s = sum_s / pairs, mu_t = sum_t / pairs;
  const double inv_mu_s = mu_s > kEps ? 1.0 / mu_s : 0.0;
  const double inv_mu_t = mu_t > kEps ? 1.0 / mu_t : 0.0;
  double total = 0, psi_dot = 0;
  for (int64_t a = 0; a < n; ++a)
    for (int64_t b = 0; b < n; ++b) {
      if (a == b) continue;
      const double psi_s = gs[a * n + b] * inv_mu_s;
      const double x = psi_s - gt[a * n + b] * inv_mu_t;
      total += smooth_l1(x);
      const double gpsi = smooth_l1_grad(x) / pairs;  // dL/dpsi_ab
      coef_[a * n + b] = gpsi;
      psi_dot += gpsi * psi_s;
    }
  if (grad != nullptr && inv_mu_s > 0) {
    // dL/dd_ab = (dL/dpsi_ab - sum_cd dL/dpsi_cd psi_cd / pairs) / mu  (mu depends on d_ab);
    // d d_ab / d e_a = (e_a - e_b) / d_ab, and the (a, b) and (b, a) terms are equal.
    for (int64_t a = 0; a < n; ++a)
      for (int64_t b = 0; b < n; ++b) {
        const double d = gs[a * n + b];
        double& c = coef_[a * n + b];
        c = (a == b || d == 0) ? 0.0 : 2.0 * (c - psi_dot / pairs) * inv_mu_s / d;
      }
    add_pairwise(coef_.data(), centred_s_.data(), n, ds, scale, grad->data);
  }
  return static_cast<float>(total / pairs);
}

float RkdLoss::angle(const View& student, const View& teacher, int64_t count, const View* grad,
                     float scale) {
  const int64_t n = count, ds = row_size(student), dt = row_size(teacher);
  assert(n <= max_batch_ && ds == student_dim_ && dt == teacher_dim_);
  if (n < 2) return 0.0f;
  double* gs = gram_s_.data();
  double* gt = gram_t_.data();
  centred_gram(student.data, n, ds, centred_s_.data(), gs);
  centred_gram(teacher.data, n, dt, centred_t_.data(), gt);
  const double noise_s = gram_noise(ds), noise_t = gram_noise(dt);
  const double entries = static_cast<double>(n) * n * n, inv_entries = 1.0 / entries;
  // For each apex j, with v_i = e_i - e_j, r_i = |v_i|, A_ik = <v_i, v_k>
  //   = G_ik - G_ij - G_jk + G_jj, the angle is c_ik = A_ik / (r_i r_k).
  // rinv[j, i] = 1 / |e_i - e_j|, 0 on the diagonal and for coincident rows (no direction).
  double* rs = rinv_s_.data();
  double* rt = rinv_t_.data();
  double total = 0;
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < n; ++i) {
      const double r2s = gs[i * n + i] - 2 * gs[j * n + i] + gs[j * n + j];
      const double r2t = gt[i * n + i] - 2 * gt[j * n + i] + gt[j * n + j];
      const bool vs =
          i != j && r2s > noise_s * (gs[i * n + i] + gs[j * n + j]) && r2s > kEps * kEps;
      const bool vt =
          i != j && r2t > noise_t * (gt[i * n + i] + gt[j * n + j]) && r2t > kEps * kEps;
      rs[j * n + i] = vs ? 1.0 / std::sqrt(r2s) : 0.0;
      rt[j * n + i] = vt ? 1.0 / std::sqrt(r2t) : 0.0;
      // The i == k entry: cos is exactly 1 (or 0 for a degenerate v_i), with no gradient.
      total += smooth_l1((vs ? 1.0 : 0.0) - (vt ? 1.0 : 0.0));
    }
  // dL/dG (upper triangle; it is symmetric), and per apex j the row sums m[j, i] of dL/dA and
  // dsum[j, i] = sum_k dL/dc_ik c_ik.
  double* t_coef = coef_.data();
  double* m = row_sums_.data();
  double* dsum = diag_sums_.data();
  std::fill(t_coef, t_coef + n * n, 0.0);
  std::fill(m, m + n * n, 0.0);
  std::fill(dsum, dsum + n * n, 0.0);
  // Blocks of i outside the loop over apexes j keep the block's rows of G and dL/dG in cache
  // (a plain j, i, k order streams all of them once per j: memory-bound, 4x slower at B 256).
  constexpr int64_t kBlock = 32;
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    const int64_t i1 = std::min(n, i0 + kBlock);
    for (int64_t j = 0; j < n; ++j) {
      const double* gs_j = gs + j * n;  // G is symmetric: row j is column j
      const double* gt_j = gt + j * n;
      const double* rs_j = rs + j * n;
      const double* rt_j = rt + j * n;
      double* m_j = m + j * n;
      double* dsum_j = dsum + j * n;
      for (int64_t i = i0; i < i1; ++i) {
        const double ris = rs_j[i], rit = rt_j[i];
        if (ris == 0 && rit == 0) continue;  // every c_ik is 0 on both sides
        const double bs = gs_j[j] - gs_j[i], bt = gt_j[j] - gt_j[i];
        const double* gs_i = gs + i * n;
        const double* gt_i = gt + i * n;
        double* t_i = t_coef + i * n;
        double mi = 0, dsi = 0, row = 0;
        // The gradient parts run (into scratch) even without grad: this loop vectorises.
        // A degenerate v_i or v_k has rinv 0, which zeroes its q and p * cs: no branch.
#pragma omp simd reduction(+ : row, mi, dsi)
        for (int64_t k = i + 1; k < n; ++k) {
          const double cs = (gs_i[k] - gs_j[k] + bs) * ris * rs_j[k];
          const double ct = (gt_i[k] - gt_j[k] + bt) * rit * rt_j[k];
          const double x = cs - ct;
          row += smooth_l1(x);
          const double p = smooth_l1_grad(x) * inv_entries;  // dL/dc per ordered entry
          const double q = p * ris * rs_j[k];                // dL/dA_ik (= dL/dA_ki)
          t_i[k] += q;
          mi += q;
          m_j[k] += q;
          dsi += p * cs;
          dsum_j[k] += p * cs;
        }
        total += 2 * row;  // entries (j, i, k) and (j, k, i)
        m_j[i] += mi;
        dsum_j[i] += dsi;
      }
    }
  }
  if (grad != nullptr) {
    // r_i = sqrt(A_ii) appears in c_ik and c_ki: dL/dA_ii = -sum_k dL/dc_ik c_ik / r_i^2.
    // Then A's dependence on G moves dL/dA to G: the row sums of dL/dA go to G_ij and G_ji
    // with a minus sign (G_jj's and G_ii's terms only feed the diagonal of dL/dG, which the
    // pairwise form of the gradient does not need).
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < n; ++i) {
        const double r = rs[j * n + i];
        if (r == 0) continue;
        const double mi = m[j * n + i] - dsum[j * n + i] * r * r;
        t_coef[std::min(i, j) * n + std::max(i, j)] -= mi;
      }
    // grad_a = sum_b (T + T^T)_ab e_b = -sum_{b != a} 2 T_ab (e_a - e_b): the rows of the
    // symmetric dL/dG sum to zero (the loss sees differences only).
    for (int64_t a = 0; a < n; ++a)
      for (int64_t b = a + 1; b < n; ++b) {
        const double w = -2.0 * t_coef[a * n + b];
        t_coef[a * n + b] = w;
        t_coef[b * n + a] = w;
      }
    add_pairwise(t_coef, centred_s_.data(), n, ds, scale, grad->data);
  }
  return static_cast<float>(total / entries);
}

// ---- FSP --------------------------------------------------------------------------------

FspLoss::FspLoss(int64_t c1, int64_t c2) : c1_(c1), c2_(c2), g_s_(c1 * c2), g_t_(c1 * c2) {}

float FspLoss::compute(const View& s_a, const View& s_b, const View& t_a, const View& t_b,
                       int64_t count, const View* grad_a, const View* grad_b, float scale) {
  const int64_t c1 = c1_, c2 = c2_, hw = spatial_size(s_a);
  assert(s_a.shape[1] == c1 && t_a.shape[1] == c1 && s_b.shape[1] == c2 && t_b.shape[1] == c2);
  assert(spatial_size(s_b) == hw && spatial_size(t_a) == hw && spatial_size(t_b) == hw);
  if (count <= 0 || hw <= 0) return 0.0f;
  const int64_t cc = c1 * c2;
  float* gs = g_s_.data();
  float* gt = g_t_.data();
  const float inv_hw = 1.0f / static_cast<float>(hw);
  // dL/dG_s = 2 (G_s - G_t) / (count C1 C2), and dG_ij/dF1[i, x] = F2[j, x] / HW.
  const double k = 2.0 * scale / (static_cast<double>(count) * cc * hw);
  double total = 0;
  for (int64_t b = 0; b < count; ++b) {
    const float* fa = s_a.data + b * c1 * hw;
    const float* fb = s_b.data + b * c2 * hw;
    gemm('N', 'T', c1, c2, hw, inv_hw, fa, hw, fb, hw, 0.0f, gs, c2);
    gemm('N', 'T', c1, c2, hw, inv_hw, t_a.data + b * c1 * hw, hw, t_b.data + b * c2 * hw, hw, 0.0f,
         gt, c2);
    for (int64_t ij = 0; ij < cc; ++ij) {
      const double diff = static_cast<double>(gs[ij]) - gt[ij];
      total += diff * diff;
      gs[ij] = static_cast<float>(k * diff);  // now the gradient coefficient R
    }
    // dF1 += R F2, dF2 += R^T F1. When s_a and s_b share one buffer and one gradient, the two
    // products add up to the derivative w.r.t. that buffer.
    if (grad_a != nullptr)
      gemm('N', 'N', c1, hw, c2, 1.0f, gs, c2, fb, hw, 1.0f, grad_a->data + b * c1 * hw, hw);
    if (grad_b != nullptr)
      gemm('T', 'N', c2, hw, c1, 1.0f, gs, c2, fa, hw, 1.0f, grad_b->data + b * c2 * hw, hw);
  }
  return static_cast<float>(total / (static_cast<double>(count) * cc));
}

}  // namespace retort::engine
