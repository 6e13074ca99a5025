#pragma once
// Undoing the shrinkage of a least-squares fit on a coarse grid, shared by
// the grid i-quants (iq_grid_rows.h) and the 2-3 bit k-quants (kquants.cpp).
//
// The fit keeps only a = <x, q>/<x, x> of the row x along x (0.92 for
// IQ2_XXS, 0.86 for IQ1_S, about 0.95 for Q2_K on small-llama) and
// e = <q, q>/<x, x> of its power (0.94, 0.91), so every layer's output comes
// out scaled down on top of its noise, and the residual stream drifts.
// Scaling the row's scales by 1/a makes the output unbiased along the true
// one but overshoots its power (e/a^2 > 1); 1/sqrt(e) keeps the power but
// leaves most of the bias. Their geometric mean measured best: small-llama
// KL divergence, IQ2_XXS preset 0.326 (no gain) / 0.308 (1/a) / 0.309
// (1/sqrt(e)) / 0.304 (geometric mean), IQ1_S 0.635 / 0.540 / 0.546 / 0.519
// (llama-quantize: 0.302, 0.574). Inner products are importance-weighted
// (the columns' mean squared activations). The weighted squared error rises
// a little; the model's outputs improve. Private to the ggml format code.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "util/half.h"

namespace llmq::ggml {

inline float row_gain(const float* x, const float* q, int64_t n, const float* imatrix) {
  double xx = 0, xq = 0, qq = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double m = imatrix ? std::max(imatrix[i], 0.f) : 1.0;
    xx += m * x[i] * x[i];
    xq += m * x[i] * q[i];
    qq += m * q[i] * q[i];
  }
  if (!(xq > 0) || !(qq > 0)) return 1.f;
  return float(std::clamp(std::sqrt(std::sqrt(xx / qq) * (xx / xq)), 0.5, 2.0));
}

// An fp16 scale times the gain, rounded back to fp16.
inline uint16_t scaled_f16(uint16_t bits, float gain) { return f32_to_f16(f16_to_f32(bits) * gain); }

}  // namespace llmq::ggml
