#pragma once
// Scale (and offset) search for one 32-value legacy block: choose the fp16
// scale d (and offset m) and the integer codes that minimise the weighted
// squared error  sum_i w_i (x_i - dequant_i)^2.
//
// Both searches work the same way:
//   1. try a grid of inverse scales around the classic "stretch the extreme
//      value to the last level" rule; for each, round to codes and solve the
//      least-squares scale (and offset) for those codes in closed form;
//   2. refine the best by alternating "nearest codes for this scale" and
//      "best scale for these codes" (each step can only lower the error);
//   3. round to fp16 and pick the codes nearest to the *stored* values, then
//      keep whichever of that and ggml's classic rule (also re-coded against
//      its stored fp16 values) has the lower error. Step 3 makes every block
//      at least as good as ggml's reference quantizer, by construction.
// Loops run over fixed 32-value arrays without loop-carried sums so that the
// compiler vectorises them.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "quant/formats/ggml/legacy_blocks.h"
#include "util/half.h"

namespace llmq::ggml::legacy {

// Round to nearest (ties to even) with float arithmetic only, so it vectorises;
// exact for |v| < 2^22, far beyond any code used here.
inline float round_to_int(float v) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  return (v + kMagic) - kMagic;
}

// Inverse scales tried in step 1: the extreme value is sent to level
// -(nmax + t) (symmetric), or the range spread over nmax + t steps (affine),
// for t = -2, -1.75, ..., +0.5. Measured on Gaussian and real weight rows, a
// wider or finer grid lowers RMSE by < 0.3% while costing twice the time.
constexpr int kGridSteps = 11;
constexpr float kGridFirst = -2.0f;
constexpr float kGridStep = 0.25f;
constexpr int kRefineRounds = 2;

struct SymmetricBlock {
  uint16_t d;                  // fp16 bits
  uint8_t q[kBlockValues];     // codes 0 .. 2*nmax-1; value = d * (q - nmax)
};

struct AffineBlock {
  uint16_t d, m;               // fp16 bits
  uint8_t q[kBlockValues];     // codes 0 .. nmax; value = d * q + m
};

namespace detail {

// Sum of 32 floats by halving (a[i] += a[i+16], then +8, ...). Each level is a
// plain vectorisable loop, and the order of additions is the same whatever
// the vector width, so results do not depend on the instruction set.
inline float sum_block(float* a) {
  for (int i = 0; i < 16; ++i) a[i] += a[i + 16];
  for (int i = 0; i < 8; ++i) a[i] += a[i + 8];
  for (int i = 0; i < 4; ++i) a[i] += a[i + 4];
  return (a[0] + a[2]) + (a[1] + a[3]);
}

// Codes nearest to x/d for the signed grid -nmax .. nmax-1, and their weighted error.
inline float code_symmetric(const float* x, const float* w, int nmax, float d, float* l) {
  const float inv = d != 0.0f ? 1.0f / d : 0.0f;
  const float lo = float(-nmax), hi = float(nmax - 1);
  float err[kBlockValues];
  for (int i = 0; i < kBlockValues; ++i) {
    l[i] = std::clamp(round_to_int(x[i] * inv), lo, hi);
    const float e = x[i] - d * l[i];
    err[i] = w[i] * e * e;
  }
  return sum_block(err);
}

// Codes nearest to (x-m)/d for the grid 0 .. nmax, and their weighted error.
inline float code_affine(const float* x, const float* w, int nmax, float d, float m, float* l) {
  const float inv = d != 0.0f ? 1.0f / d : 0.0f;
  const float hi = float(nmax);
  float err[kBlockValues];
  for (int i = 0; i < kBlockValues; ++i) {
    l[i] = std::clamp(round_to_int((x[i] - m) * inv), 0.0f, hi);
    const float e = x[i] - (d * l[i] + m);
    err[i] = w[i] * e * e;
  }
  return sum_block(err);
}

// Weighted sums Sxl = sum w x l and Sll = sum w l^2 of one set of codes.
struct ScaleSums {
  float sxl, sll;
};
inline ScaleSums scale_sums(const float* wx, const float* w, const float* l) {
  float xl[kBlockValues], ll[kBlockValues];
  for (int i = 0; i < kBlockValues; ++i) {
    xl[i] = wx[i] * l[i];
    ll[i] = w[i] * l[i] * l[i];
  }
  return {sum_block(xl), sum_block(ll)};
}

}  // namespace detail

// Symmetric block: value = d * (q - nmax); nmax = 8 for Q4_0, 16 for Q5_0.
// `w` holds 32 non-negative weights (not all zero).
inline SymmetricBlock fit_symmetric_block(const float* x, const float* w, int nmax) {
  // The value of largest magnitude goes to the extra negative level -nmax, so
  // its sign decides the sign of d (as in ggml).
  float amax = 0.0f, extreme = 0.0f;
  for (int i = 0; i < kBlockValues; ++i)
    if (std::fabs(x[i]) > amax) { amax = std::fabs(x[i]); extreme = x[i]; }

  SymmetricBlock out{};
  if (amax == 0.0f) {  // all zero (or NaN): codes for zero
    out.d = 0;
    std::fill(out.q, out.q + kBlockValues, uint8_t(nmax));
    return out;
  }

  float wx[kBlockValues], l[kBlockValues];
  for (int i = 0; i < kBlockValues; ++i) wx[i] = w[i] * x[i];

  // For codes l the best scale is Sxl/Sll and the error Sxx - Sxl^2/Sll, so
  // the codes with the largest Sxl^2/Sll win.
  const float lo = float(-nmax), hi = float(nmax - 1);
  float best_gain = -1.0f, best_d = extreme / float(-nmax);
  auto consider = [&](const detail::ScaleSums& s) {
    if (!(s.sll > 0.0f && s.sxl * s.sxl > best_gain * s.sll)) return false;
    best_gain = s.sxl * s.sxl / s.sll;
    best_d = s.sxl / s.sll;
    return true;
  };
  for (int g = 0; g < kGridSteps; ++g) {
    const float inv = -(float(nmax) + kGridFirst + kGridStep * float(g)) / extreme;
    for (int i = 0; i < kBlockValues; ++i) l[i] = std::clamp(round_to_int(x[i] * inv), lo, hi);
    consider(detail::scale_sums(wx, w, l));
  }
  for (int round = 0; round < kRefineRounds; ++round) {
    detail::code_symmetric(x, w, nmax, best_d, l);
    if (!consider(detail::scale_sums(wx, w, l))) break;  // converged
  }

  // Judge candidates by the values a reader will actually reconstruct.
  const uint16_t searched = f32_to_f16(best_d);
  const uint16_t classic = f32_to_f16(extreme / float(-nmax));
  float l_classic[kBlockValues];
  const float err_searched = detail::code_symmetric(x, w, nmax, f16_to_f32(searched), l);
  const float err_classic = detail::code_symmetric(x, w, nmax, f16_to_f32(classic), l_classic);
  const bool use_classic = err_classic < err_searched;
  out.d = use_classic ? classic : searched;
  const float* chosen = use_classic ? l_classic : l;
  for (int i = 0; i < kBlockValues; ++i) out.q[i] = uint8_t(int(chosen[i]) + nmax);
  return out;
}

// Affine block: value = d * q + m with q in 0 .. nmax; nmax = 15 for Q4_1, 31 for Q5_1.
inline AffineBlock fit_affine_block(const float* x, const float* w, int nmax) {
  float lo = x[0], hi = x[0];
  for (int i = 1; i < kBlockValues; ++i) { lo = std::min(lo, x[i]); hi = std::max(hi, x[i]); }

  AffineBlock out{};
  if (!(hi > lo)) {  // constant block: the offset alone reproduces it
    out.d = 0;
    out.m = f32_to_f16(lo);
    std::fill(out.q, out.q + kBlockValues, uint8_t(0));
    return out;
  }

  // Work on u = x - lo so that the sums below do not cancel when the block
  // sits far from zero; the offset found is then relative to lo.
  float u[kBlockValues], wu[kBlockValues], tmp[kBlockValues], l[kBlockValues];
  for (int i = 0; i < kBlockValues; ++i) {
    u[i] = x[i] - lo;
    wu[i] = w[i] * u[i];
  }
  std::copy(w, w + kBlockValues, tmp);
  const float sw = detail::sum_block(tmp);
  std::copy(wu, wu + kBlockValues, tmp);
  const float su = detail::sum_block(tmp);

  // For codes l the best (d, m) solve the 2x2 normal equations; the error is
  // then Suu - (d*Sul + m*Su), so the codes with the largest gain d*Sul + m*Su win.
  float best_gain = -1.0f, best_d = (hi - lo) / float(nmax), best_m = 0.0f;
  auto consider = [&](const float* codes) {
    float wl[kBlockValues], wll[kBlockValues], wul[kBlockValues];
    for (int i = 0; i < kBlockValues; ++i) {
      wl[i] = w[i] * codes[i];
      wll[i] = wl[i] * codes[i];
      wul[i] = wu[i] * codes[i];
    }
    const float sl = detail::sum_block(wl), sll = detail::sum_block(wll), sul = detail::sum_block(wul);
    const float det = sw * sll - sl * sl;
    if (!(det > 0.0f)) return false;
    const float d = (sw * sul - su * sl) / det;
    const float m = (sll * su - sl * sul) / det;
    const float gain = d * sul + m * su;
    if (!(d > 0.0f && gain > best_gain)) return false;
    best_gain = gain;
    best_d = d;
    best_m = m;
    return true;
  };

  const float top = float(nmax);
  for (int g = 0; g < kGridSteps; ++g) {
    const float inv = (top + kGridFirst + kGridStep * float(g)) / (hi - lo);
    for (int i = 0; i < kBlockValues; ++i) l[i] = std::clamp(round_to_int(u[i] * inv), 0.0f, top);
    consider(l);
  }
  for (int round = 0; round < kRefineRounds; ++round) {
    detail::code_affine(u, w, nmax, best_d, best_m, l);
    if (!consider(l)) break;  // converged
  }

  const AffineBlock searched_fp16{f32_to_f16(best_d), f32_to_f16(best_m + lo), {}};
  const AffineBlock classic_fp16{f32_to_f16((hi - lo) / float(nmax)), f32_to_f16(lo), {}};
  float l_classic[kBlockValues];
  const float err_searched = detail::code_affine(x, w, nmax, f16_to_f32(searched_fp16.d), f16_to_f32(searched_fp16.m), l);
  const float err_classic =
      detail::code_affine(x, w, nmax, f16_to_f32(classic_fp16.d), f16_to_f32(classic_fp16.m), l_classic);
  const bool use_classic = err_classic < err_searched;
  out.d = use_classic ? classic_fp16.d : searched_fp16.d;
  out.m = use_classic ? classic_fp16.m : searched_fp16.m;
  const float* chosen = use_classic ? l_classic : l;
  for (int i = 0; i < kBlockValues; ++i) out.q[i] = uint8_t(chosen[i]);
  return out;
}

}  // namespace llmq::ggml::legacy
