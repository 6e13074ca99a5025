#pragma once
// Second level of k-quant encoding: turn the real-valued sub-block scales
// (and mins) of one 256-value super-block into the stored form — an fp16
// super-scale d (and dmin) times small integer codes — and pick the levels.
//
// Rounding each sub-block's scale to its nearest code is not the best choice
// once the levels are re-rounded against the coded scale, so for every
// sub-block we search the codes around it (by descent from the rounded ones),
// scoring each by the true weighted error of the sub-block re-quantised with
// exactly the values the decoder will compute (fp16 d times the code). Then d
// (and dmin) are re-fitted by least squares to the chosen codes and levels,
// and the search repeats once (affine) or twice (symmetric) while the total
// error falls. On small-llama the descent and the single affine refit made a
// Q4_K_M export 2.3x faster at the same KL divergence (0.00803 against 0.00819,
// +-0.00016) and Q3_K_M 1.8x (0.02565 against 0.02556, +-0.00045).
//
// Private to kquants.cpp.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "quant/formats/ggml/kquant_fit.h"
#include "util/half.h"

namespace llmq::ggml::kquant {

inline float to_fp16_and_back(float v, uint16_t& bits) {
  bits = f32_to_f16(v);
  return f16_to_f32(bits);
}

// The fp16 value nearest to v that is not smaller in magnitude. Used for a
// super-scale sized so that the largest sub-block scale takes the top code:
// rounding it down would push that code out of range. Small weights make
// this matter, as their super-scales fall among fp16's few-bit subnormals.
inline float to_fp16_at_least(float v, uint16_t& bits) {
  bits = f32_to_f16(v);
  if (std::fabs(f16_to_f32(bits)) < std::fabs(v) && (bits & 0x7fff) < 0x7bff) ++bits;  // next magnitude up
  return f16_to_f32(bits);
}

// ============================ affine (Q2_K, Q4_K, Q5_K) =====================
struct AffineSpec {
  int sub_size;    // values per sub-block: 16 or 32
  int nmax;        // top level: 3, 15 or 31
  int code_max;    // top scale/min code: 15 or 63
  ScaleGrid grid;  // first-level scale search
  int radius;      // codes tried on either side of the rounded ones
};

struct AffineCode {
  uint16_t d_bits = 0, dmin_bits = 0;
  uint8_t sc[16] = {}, m[16] = {};
  uint8_t q[256] = {};
};

// Weighted squared error of a sub-block decoded as D*l - M with the best l.
inline float affine_error(const float* x, const float* w, int n, int nmax, float D, float M) {
  float err = 0;
  if (D == 0) {
#pragma omp simd reduction(+ : err)
    for (int i = 0; i < n; ++i) err += w[i] * (x[i] + M) * (x[i] + M);
    return err;
  }
  const float inv = 1.f / D, top = float(nmax);
#pragma omp simd reduction(+ : err)
  for (int i = 0; i < n; ++i) {
    const float l = round_even(std::clamp((x[i] + M) * inv, 0.f, top));
    const float e = x[i] - (D * l - M);
    err += w[i] * e * e;
  }
  return err;
}

inline void affine_levels(const float* x, int n, int nmax, float D, float M, uint8_t* q) {
  if (D == 0) {
    std::fill(q, q + n, uint8_t(0));
    return;
  }
  const float inv = 1.f / D, top = float(nmax);
  for (int i = 0; i < n; ++i) q[i] = uint8_t(round_even(std::clamp((x[i] + M) * inv, 0.f, top)));
}

// For fixed d/dmin, choose every sub-block's (sc, m) within `radius` of the
// given centres; fills code.sc/m/q and returns the total error.
//
// The error over the (sc, m) window is close to a bowl around the centre, so
// it is searched by descent rather than exhaustively: from the centre, step
// to the best of the 4 axis neighbours while that lowers the error, each pair
// scored once. That scores ~6 pairs where the whole 5 x 5 window costs 25
// (this search was two thirds of a Q4_K_M export's time), and it finds the
// same pair unless the error has a second, separate dip inside the window.
inline double search_affine_codes(const float* x, const float* w, const AffineSpec& sp, float d, float dmin,
                                  const int* sc_centre, const int* m_centre, AffineCode& code) {
  const int nsub = 256 / sp.sub_size;
  constexpr int kMaxRadius = 4;  // the memo below holds a (2 r + 1)^2 window
  const int radius = std::min(sp.radius, kMaxRadius), side = 2 * radius + 1;
  double total = 0;
  for (int j = 0; j < nsub; ++j) {
    const float* xs = x + j * sp.sub_size;
    const float* ws = w + j * sp.sub_size;
    // A zero super-scale makes every code decode alike: try just 0.
    const int sc_base = d > 0 ? sc_centre[j] - radius : 0, m_base = dmin > 0 ? m_centre[j] - radius : 0;
    const int sc_lo = d > 0 ? std::max(0, sc_base) : 0;
    const int sc_hi = d > 0 ? std::min(sp.code_max, sc_centre[j] + radius) : 0;
    const int m_lo = dmin > 0 ? std::max(0, m_base) : 0;
    const int m_hi = dmin > 0 ? std::min(sp.code_max, m_centre[j] + radius) : 0;
    float memo[(2 * kMaxRadius + 1) * (2 * kMaxRadius + 1)];
    std::fill(memo, memo + side * side, -1.f);
    auto error_at = [&](int sc, int m) {
      float& e = memo[(sc - sc_base) * side + (m - m_base)];
      if (e < 0) e = affine_error(xs, ws, sp.sub_size, sp.nmax, d * sc, dmin * m);
      return e;
    };
    int best_sc = std::clamp(d > 0 ? sc_centre[j] : 0, sc_lo, sc_hi);
    int best_m = std::clamp(dmin > 0 ? m_centre[j] : 0, m_lo, m_hi);
    float best = error_at(best_sc, best_m);
    for (bool moved = true; moved;) {
      moved = false;
      const int c_sc = best_sc, c_m = best_m;
      for (const auto [dsc, dm] : {std::pair{-1, 0}, std::pair{1, 0}, std::pair{0, -1}, std::pair{0, 1}}) {
        const int sc = c_sc + dsc, m = c_m + dm;
        if (sc < sc_lo || sc > sc_hi || m < m_lo || m > m_hi) continue;
        const float err = error_at(sc, m);
        if (err < best) best = err, best_sc = sc, best_m = m, moved = true;
      }
    }
    code.sc[j] = uint8_t(best_sc);
    code.m[j] = uint8_t(best_m);
    affine_levels(xs, sp.sub_size, sp.nmax, d * best_sc, dmin * best_m, code.q + j * sp.sub_size);
    total += best;
  }
  return total;
}

// Least-squares d, dmin >= 0 for x ~ d*(sc*q) - dmin*m with codes and levels fixed.
inline void refit_affine_scales(const float* x, const float* w, const AffineSpec& sp, const AffineCode& c, float& d,
                                float& dmin) {
  double A = 0, B = 0, C = 0, P = 0, Q = 0;  // sums of w*a*a, w*a*b, w*b*b, w*x*a, w*x*b
  for (int i = 0; i < 256; ++i) {
    const int j = i / sp.sub_size;
    const double a = double(c.sc[j]) * c.q[i], b = c.m[j];
    A += w[i] * a * a, B += w[i] * a * b, C += w[i] * b * b, P += w[i] * x[i] * a, Q += w[i] * x[i] * b;
  }
  const double det = A * C - B * B;
  if (det > 1e-12 * A * C && C > 0) {
    d = float((P * C - B * Q) / det);
    dmin = float((B * P - A * Q) / det);
  } else {
    dmin = 0;
  }
  if (!(dmin > 0)) dmin = 0, d = A > 0 ? float(P / A) : 0.f;
  if (!(d > 0)) d = 0;
}

// Nearest code to a scale (or min) of v units.
inline int affine_code(float v, int code_max) { return int(round_even(std::clamp(v, 0.f, float(code_max)))); }

inline void encode_affine(const float* x, const float* w, const AffineSpec& sp, AffineCode& code) {
  const int nsub = 256 / sp.sub_size;
  float scale[16], min[16];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < nsub; ++j) {
    const AffineFit f = fit_affine(x + j * sp.sub_size, w + j * sp.sub_size, sp.sub_size, sp.nmax, sp.grid);
    scale[j] = f.scale, min[j] = f.min;
    max_scale = std::max(max_scale, f.scale);
    max_min = std::max(max_min, f.min);
  }

  AffineCode trial;
  float d = to_fp16_at_least(max_scale / sp.code_max, trial.d_bits);
  float dmin = to_fp16_at_least(max_min / sp.code_max, trial.dmin_bits);
  int sc_c[16], m_c[16];
  for (int j = 0; j < nsub; ++j) {
    sc_c[j] = d > 0 ? affine_code(scale[j] / d, sp.code_max) : 0;
    m_c[j] = dmin > 0 ? affine_code(min[j] / dmin, sp.code_max) : 0;
  }
  double best = search_affine_codes(x, w, sp, d, dmin, sc_c, m_c, trial);
  code = trial;

  constexpr int kRefits = 1;  // a second refit cost a quarter of the time for no measurable gain
  for (int it = 0; it < kRefits; ++it) {
    float nd, ndmin;
    refit_affine_scales(x, w, sp, code, nd, ndmin);
    nd = to_fp16_and_back(nd, trial.d_bits);
    ndmin = to_fp16_and_back(ndmin, trial.dmin_bits);
    if (trial.d_bits == code.d_bits && trial.dmin_bits == code.dmin_bits) break;
    // Centre the new search on the current sub-block scales re-expressed in the new units.
    for (int j = 0; j < nsub; ++j) {
      sc_c[j] = nd > 0 ? affine_code(code.sc[j] * d / nd, sp.code_max) : 0;
      m_c[j] = ndmin > 0 ? affine_code(code.m[j] * dmin / ndmin, sp.code_max) : 0;
    }
    const double err = search_affine_codes(x, w, sp, nd, ndmin, sc_c, m_c, trial);
    if (!(err < best)) break;
    best = err, code = trial, d = nd, dmin = ndmin;
  }
}

// ============================ symmetric (Q3_K, Q6_K) ========================
struct SymmetricSpec {
  int sub_size;         // values per sub-block (16)
  int nh;               // levels are -nh..nh-1: 4 or 32
  int code_lo, code_hi; // scale codes: -32..31 or -128..127
  ScaleGrid grid;
  int radius;
};

struct SymmetricCode {
  uint16_t d_bits = 0;
  int8_t sc[16] = {};
  int8_t q[256] = {};  // -nh..nh-1
};

inline float symmetric_error(const float* x, const float* w, int n, int nh, float D) {
  float err = 0;
  if (D == 0) {
#pragma omp simd reduction(+ : err)
    for (int i = 0; i < n; ++i) err += w[i] * x[i] * x[i];
    return err;
  }
  const float inv = 1.f / D, lo = float(-nh), hi = float(nh - 1);
#pragma omp simd reduction(+ : err)
  for (int i = 0; i < n; ++i) {
    const float l = round_even(std::clamp(x[i] * inv, lo, hi));
    const float e = x[i] - D * l;
    err += w[i] * e * e;
  }
  return err;
}

inline void symmetric_levels(const float* x, int n, int nh, float D, int8_t* q) {
  if (D == 0) {
    std::fill(q, q + n, int8_t(0));
    return;
  }
  const float inv = 1.f / D, lo = float(-nh), hi = float(nh - 1);
  for (int i = 0; i < n; ++i) q[i] = int8_t(round_even(std::clamp(x[i] * inv, lo, hi)));
}

inline double search_symmetric_codes(const float* x, const float* w, const SymmetricSpec& sp, float d,
                                     const int* centre, SymmetricCode& code) {
  const int nsub = 256 / sp.sub_size;
  double total = 0;
  for (int j = 0; j < nsub; ++j) {
    const float* xs = x + j * sp.sub_size;
    const float* ws = w + j * sp.sub_size;
    const int lo = d != 0 ? std::max(sp.code_lo, centre[j] - sp.radius) : 0;
    const int hi = d != 0 ? std::min(sp.code_hi, centre[j] + sp.radius) : 0;
    // As the affine search: descend from the centre (here along one axis) instead of scoring every code.
    int best_sc = std::clamp(d != 0 ? centre[j] : 0, lo, hi);
    float best = symmetric_error(xs, ws, sp.sub_size, sp.nh, d * best_sc);
    for (int dir : {-1, 1}) {
      const int start = best_sc;
      for (int sc = start + dir; sc >= lo && sc <= hi; sc += dir) {
        const float err = symmetric_error(xs, ws, sp.sub_size, sp.nh, d * sc);
        if (!(err < best)) break;
        best = err, best_sc = sc;
      }
      if (best_sc != start) break;  // went down this way: the other side rises
    }
    code.sc[j] = int8_t(best_sc);
    symmetric_levels(xs, sp.sub_size, sp.nh, d * best_sc, code.q + j * sp.sub_size);
    total += best;
  }
  return total;
}

inline int symmetric_code(float scale, float d, const SymmetricSpec& sp) {
  if (d == 0) return 0;
  return int(std::clamp(round_even(std::clamp(scale / d, -1e6f, 1e6f)), float(sp.code_lo), float(sp.code_hi)));
}

inline void encode_symmetric(const float* x, const float* w, const SymmetricSpec& sp, SymmetricCode& code) {
  const int nsub = 256 / sp.sub_size;
  float scale[16];
  float peak = 0;  // the sub-block scale of largest magnitude, with its sign
  for (int j = 0; j < nsub; ++j) {
    scale[j] = fit_symmetric(x + j * sp.sub_size, w + j * sp.sub_size, sp.sub_size, sp.nh, sp.grid);
    if (std::fabs(scale[j]) > std::fabs(peak)) peak = scale[j];
  }

  SymmetricCode trial;
  // The largest scale takes the most negative code, which has one step more.
  float d = to_fp16_at_least(peak / sp.code_lo, trial.d_bits);
  int centre[16];
  for (int j = 0; j < nsub; ++j) centre[j] = symmetric_code(scale[j], d, sp);
  double best = search_symmetric_codes(x, w, sp, d, centre, trial);
  code = trial;

  for (int it = 0; it < 2; ++it) {
    double num = 0, den = 0;
    for (int i = 0; i < 256; ++i) {
      const double a = double(code.sc[i / sp.sub_size]) * code.q[i];
      num += w[i] * x[i] * a, den += w[i] * a * a;
    }
    if (!(den > 0)) break;
    const float nd = to_fp16_and_back(float(num / den), trial.d_bits);
    if (trial.d_bits == code.d_bits) break;
    for (int j = 0; j < nsub; ++j) centre[j] = symmetric_code(code.sc[j] * d, nd, sp);
    const double err = search_symmetric_codes(x, w, sp, nd, centre, trial);
    if (!(err < best)) break;
    best = err, code = trial, d = nd;
  }
}

}  // namespace llmq::ggml::kquant
