#pragma once
// First level of k-quant encoding: for one sub-block (16 or 32 values) find
// the real-valued scale (and min) that minimise the weighted squared error
// sum_i w_i (x_i - xhat_i)^2 once every value is rounded to its level.
//
// The error is not smooth in the scale (levels jump), so we try a grid of
// scales around the naive "range / levels" choice; for each the levels are
// fixed by rounding and the scale (and min) follow in closed form by weighted
// least squares. The best candidate is then polished by re-rounding with its
// own scale until the error stops falling.
//
// Private to kquants.cpp.
#include <algorithm>
#include <cmath>

namespace llmq::ggml::kquant {

// Round to nearest, ties to even, exact for |v| < 2^22. Written as the
// 1.5*2^23 trick so that loops using it vectorise (lrintf does not).
inline float round_even(float v) { return (v + 12582912.f) - 12582912.f; }

// Candidate scales: levels_per_range = top + first + k*step, k = 0..count-1.
struct ScaleGrid {
  float first;
  float step;
  int count;
};

// --- weights ---------------------------------------------------------------
// Per-value weights of the squared error for one super-block of 256 values:
// sqrt(sigma2 + x^2), sigma2 being twice the block's mean square (as ggml does
// for Q3_K..Q5_K with an imatrix). Large values count more — a wrong outlier
// costs the model more than a wrong near-zero weight — without small values
// being ignored. An importance vector (imatrix: mean squared activation per
// column) multiplies this, so columns that see large activations are fitted
// more closely; a sub-block whose importance is all zero keeps the plain
// weights rather than having nothing to fit.
inline void error_weights(const float* x, const float* importance, int sub_size, float* w) {
  float sum_x2 = 0;
#pragma omp simd reduction(+ : sum_x2)
  for (int i = 0; i < 256; ++i) sum_x2 += x[i] * x[i];
  const float sigma2 = 2 * sum_x2 / 256;
  for (int i = 0; i < 256; ++i) w[i] = std::sqrt(sigma2 + x[i] * x[i]);
  if (!importance) return;
  for (int j = 0; j < 256; j += sub_size) {
    float total = 0;
    for (int i = j; i < j + sub_size; ++i) total += std::max(importance[i], 0.f);
    if (total > 0)
      for (int i = j; i < j + sub_size; ++i) w[i] *= std::max(importance[i], 0.f);
  }
}

// --- affine: x ~ scale*l - min, l in 0..nmax, scale >= 0, min >= 0 ----------
struct AffineFit {
  float scale;
  float min;  // subtracted, as stored in Q2_K/Q4_K/Q5_K
};

// Weighted moments of a sub-block that do not depend on the levels.
struct Moments {
  float w = 0, wx = 0, wx2 = 0;
};
inline Moments moments(const float* x, const float* w, int n) {
  float sw = 0, swx = 0, swx2 = 0;
#pragma omp simd reduction(+ : sw, swx, swx2)
  for (int i = 0; i < n; ++i) {
    sw += w[i];
    swx += w[i] * x[i];
    swx2 += w[i] * x[i] * x[i];
  }
  return {sw, swx, swx2};
}

// Least-squares scale s >= 0 and offset o <= 0 for x ~ s*l + o given the
// weighted level sums; returns the weighted squared error.
inline double solve_affine(const Moments& mo, float sl, float sl2, float sxl, float& s, float& o) {
  const double det = double(mo.w) * sl2 - double(sl) * sl;
  if (det > 1e-30 * double(mo.w) * sl2) {
    s = float((double(mo.w) * sxl - double(mo.wx) * sl) / det);
    o = float((double(sl2) * mo.wx - double(sl) * sxl) / det);
  } else {  // every weighted level equal: the offset alone, or the scale alone
    s = 0;
    o = mo.w > 0 ? mo.wx / mo.w : 0;
  }
  if (o > 0) {  // a positive offset cannot be stored: fit the scale alone
    o = 0;
    s = sl2 > 0 ? sxl / sl2 : 0;
  }
  if (s < 0) {
    s = 0;
    o = mo.w > 0 ? std::min(0.f, mo.wx / mo.w) : 0;
  }
  const double ds = s, dq = o;
  return double(mo.wx2) - 2 * ds * sxl - 2 * dq * mo.wx + ds * ds * sl2 + 2 * ds * dq * sl + dq * dq * mo.w;
}

// Level sums for levels l = clamp(round((x - o) * inv), 0, nmax).
inline void affine_level_sums(const float* x, const float* w, int n, int nmax, float o, float inv, float& sl,
                              float& sl2, float& sxl) {
  float a = 0, b = 0, c = 0;
  const float top = float(nmax);
#pragma omp simd reduction(+ : a, b, c)
  for (int i = 0; i < n; ++i) {
    const float l = round_even(std::clamp((x[i] - o) * inv, 0.f, top));
    a += w[i] * l;
    b += w[i] * l * l;
    c += w[i] * x[i] * l;
  }
  sl = a;
  sl2 = b;
  sxl = c;
}

inline AffineFit fit_affine(const float* x, const float* w, int n, int nmax, const ScaleGrid& grid) {
  float xmin = x[0], xmax = x[0];
  for (int i = 1; i < n; ++i) {
    xmin = std::min(xmin, x[i]);
    xmax = std::max(xmax, x[i]);
  }
  const float lo = std::min(xmin, 0.f);  // the offset can only pull values down
  if (xmax <= lo) return {0.f, -lo};      // constant sub-block at or below zero
  const Moments mo = moments(x, w, n);
  const float range = xmax - lo;
  if (!(mo.w > 0)) return {range / nmax, -lo};

  float best_s = range / nmax, best_o = lo;
  double best_err = INFINITY;
  for (int k = 0; k < grid.count; ++k) {
    const float inv = (nmax + grid.first + k * grid.step) / range;
    float sl, sl2, sxl, s, o;
    affine_level_sums(x, w, n, nmax, lo, inv, sl, sl2, sxl);
    const double err = solve_affine(mo, sl, sl2, sxl, s, o);
    if (err < best_err) best_err = err, best_s = s, best_o = o;
  }
  // Polish: re-round with the fitted scale and offset while that helps.
  for (int it = 0; it < 4 && best_s > 0; ++it) {
    float sl, sl2, sxl, s, o;
    affine_level_sums(x, w, n, nmax, best_o, 1.f / best_s, sl, sl2, sxl);
    const double err = solve_affine(mo, sl, sl2, sxl, s, o);
    if (!(err < best_err * (1 - 1e-6))) break;
    best_err = err, best_s = s, best_o = o;
  }
  return {best_s, -best_o};
}

// --- symmetric: x ~ scale*l, l in -nh..nh-1, scale of either sign -----------
// The levels are lopsided, so both signs of the scale are tried: the value of
// largest magnitude landing on -nh (the extra level) or on +nh-1.
inline void symmetric_level_sums(const float* x, const float* w, int n, int nh, float inv, float& sl2, float& sxl) {
  float b = 0, c = 0;
  const float lo = float(-nh), hi = float(nh - 1);
#pragma omp simd reduction(+ : b, c)
  for (int i = 0; i < n; ++i) {
    const float l = round_even(std::clamp(x[i] * inv, lo, hi));
    b += w[i] * l * l;
    c += w[i] * x[i] * l;
  }
  sl2 = b;
  sxl = c;
}

inline float fit_symmetric(const float* x, const float* w, int n, int nh, const ScaleGrid& grid) {
  float amax = 0, xpeak = 0;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > amax) amax = std::fabs(x[i]), xpeak = x[i];
  if (amax == 0) return 0.f;

  // Maximise sxl^2 / sl2 (the error is sum w x^2 minus that).
  float best_s = -xpeak / nh;
  double best_gain = -1;
  auto consider = [&](float inv) {
    float sl2, sxl;
    symmetric_level_sums(x, w, n, nh, inv, sl2, sxl);
    if (sl2 <= 0) return false;
    const double gain = double(sxl) * sxl / sl2;
    if (!(gain > best_gain * (1 + 1e-7))) return false;  // also rejects NaN from denormal scales
    best_gain = gain, best_s = sxl / sl2;
    return true;
  };
  for (int k = 0; k < grid.count; ++k) consider(-(nh + grid.first + k * grid.step) / xpeak);
  // The other sign (the peak on the shorter side, +nh-1) wins less often and by less: only the five
  // grid points around its exact fit, then the polish below (a quarter of the cost of the full grid).
  for (int k = std::max(0, grid.count / 2 - 2); k <= std::min(grid.count - 1, grid.count / 2 + 2); ++k)
    consider((nh - 1 + grid.first + k * grid.step) / xpeak);
  for (int it = 0; it < 4 && best_s != 0; ++it)
    if (!consider(1.f / best_s)) break;
  return best_s;
}

}  // namespace llmq::ggml::kquant
