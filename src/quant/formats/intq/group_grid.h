#pragma once
// The quantization grid of one (row, group): scale and integer zero point,
// fitted from the range of the weights, and the code <-> value maps.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "quant/formats/intq/int_quant_spec.h"

namespace llmq {

struct GroupGrid {
  float scale = 1.0f;
  int zero = 0;

  // q = clamp(round(w / s) + z, 0, maxq); rounding half to even, as torch.round.
  int quantize(float w, int maxq) const {
    const float r = std::nearbyint(w / scale) + float(zero);
    return int(std::clamp(r, 0.0f, float(maxq)));
  }
  float dequantize(int q) const { return scale * float(q - zero); }
};

// Fits the grid to the range [wmin, wmax] of a group (the range always
// includes 0, as GPTQ's and AutoAWQ's min-max quantizers do). `shrink` < 1
// clips the range (AWQ's clipping search, GPTQ's MSE grid).
// Symmetric: s = 2 max|w| / maxq, z = 2^(bits-1). Asymmetric: s = (max-min)/maxq,
// z = round(-min / s) clamped to [zero_min, maxq].
GroupGrid fit_group_grid(float wmin, float wmax, const IntQuantSpec& spec, float shrink = 1.0f);

// Range of n values spaced `stride` apart.
void value_range(const float* w, int64_t n, int64_t stride, float& wmin, float& wmax);

}  // namespace llmq
