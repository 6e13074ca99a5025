#include "quant/formats/fp/nvfp4.h"

#include <cmath>

#include "quant/formats/fp/fp4_packing.h"
#include "quant/formats/fp/group_codec.h"
#include "quant/formats/fp/minifloat.h"
#include "util/error.h"

namespace llmq::fp {
namespace {

constexpr uint8_t kZeroGroupScaleCode = 0x20;  // 0.125 in E4M3

void check_shape(int64_t rows, int64_t cols) {
  if (rows < 0 || cols <= 0 || cols % kNvfp4GroupSize != 0)
    fail("NVFP4: row length {} is not a positive multiple of {}", cols, kNvfp4GroupSize);
}

float tensor_max_abs(const float* w, int64_t n) {
  float m = 0.0f;
#pragma omp parallel for reduction(max : m) schedule(static)
  for (int64_t i = 0; i < n; ++i) m = std::fmax(m, std::fabs(w[i]));
  return m;
}

// The E4M3 scale code of one group of 16, and its 16 E2M1 codes.
uint8_t quantize_group(const float* x, const float* importance, float global_scale, ScaleRule rule,
                       uint8_t* codes) {
  const float amax = max_abs(x, kNvfp4GroupSize);
  if (amax == 0.0f) {
    for (int j = 0; j < kNvfp4GroupSize; ++j) codes[j] = 0;
    return kZeroGroupScaleCode;
  }
  const float target = amax / kE2M1Max * global_scale;  // the unrounded max-abs scale, in E4M3 units
  uint8_t best = encode_e4m3(target);
  if (best == 0) best = 1;
  if (rule == ScaleRule::search) {
    double best_err = e2m1_group_error(x, importance, kNvfp4GroupSize, decode_e4m3(best) / global_scale);
    uint8_t last_tried = best;
    for (float f : search_factors()) {
      const uint8_t code = encode_e4m3(f * target);
      // factors ascend, so equal codes come in runs: skip repeats and zero
      if (code == 0 || code == last_tried || code == best) continue;
      last_tried = code;
      const double err = e2m1_group_error(x, importance, kNvfp4GroupSize, decode_e4m3(code) / global_scale);
      if (err < best_err) best_err = err, best = code;
    }
  }
  encode_e2m1_group(x, kNvfp4GroupSize, decode_e4m3(best) / global_scale, codes);
  return best;
}

}  // namespace

float nvfp4_global_scale(float amax) { return amax > 0.0f ? kE4M3Max * kE2M1Max / amax : 1.0f; }

Nvfp4Weights quantize_nvfp4(const float* w, int64_t rows, int64_t cols, const float* importance,
                            ScaleRule rule) {
  check_shape(rows, cols);
  Nvfp4Weights q;
  q.rows = rows;
  q.cols = cols;
  q.global_scale = nvfp4_global_scale(tensor_max_abs(w, rows * cols));
  q.packed.resize(size_t(rows * cols / 2));
  q.scales.resize(size_t(rows * cols / kNvfp4GroupSize));
  const int64_t groups_per_row = cols / kNvfp4GroupSize;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < groups_per_row; ++g) {
      const int64_t off = g * kNvfp4GroupSize;
      uint8_t codes[kNvfp4GroupSize];
      q.scales[r * groups_per_row + g] = quantize_group(w + r * cols + off, importance ? importance + off : nullptr,
                                                        q.global_scale, rule, codes);
      pack_fp4_consecutive(codes, kNvfp4GroupSize, q.packed.data() + (r * cols + off) / 2);
    }
  }
  return q;
}

void dequantize_nvfp4(const uint8_t* packed, const uint8_t* scales, float global_scale, int64_t rows,
                      int64_t cols, float* out) {
  check_shape(rows, cols);
  const int64_t n = rows * cols;
#pragma omp parallel for schedule(static)
  for (int64_t g = 0; g < n / kNvfp4GroupSize; ++g) {
    const float scale = decode_e4m3(scales[g]) / global_scale;
    const uint8_t* p = packed + g * (kNvfp4GroupSize / 2);
    float* y = out + g * kNvfp4GroupSize;
    for (int k = 0; k < kNvfp4GroupSize / 2; ++k) {
      y[2 * k] = scale * decode_e2m1(p[k] & 0x0F);
      y[2 * k + 1] = scale * decode_e2m1(p[k] >> 4);
    }
  }
}

}  // namespace llmq::fp
