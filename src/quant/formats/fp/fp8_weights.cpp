#include "quant/formats/fp/fp8_weights.h"

#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "quant/formats/fp/group_codec.h"
#include "quant/formats/fp/minifloat.h"
#include "util/error.h"

namespace llmq::fp {
namespace {

// The max-abs scale, floored like compressed-tensors so that it never is zero.
float max_abs_scale(float amax) {
  return std::fmax(amax / kE4M3Max, std::numeric_limits<float>::epsilon());
}

float best_row_scale(const float* x, int64_t cols, const float* importance, ScaleRule rule) {
  const float amax = max_abs(x, cols);
  const float base = max_abs_scale(amax);
  if (rule == ScaleRule::max_abs || amax == 0.0f) return base;
  float best = base;
  double best_err = e4m3_group_error(x, importance, cols, base);
  for (float f : search_factors()) {
    if (f == 1.0f) continue;
    const float s = base * f;
    const double err = e4m3_group_error(x, importance, cols, s);
    if (err < best_err) best_err = err, best = s;
  }
  return best;
}

float best_tensor_scale(const float* w, int64_t rows, int64_t cols, const float* importance, ScaleRule rule) {
  float amax = 0.0f;
#pragma omp parallel for reduction(max : amax) schedule(static)
  for (int64_t r = 0; r < rows; ++r) amax = std::fmax(amax, max_abs(w + r * cols, cols));
  const float base = max_abs_scale(amax);
  if (rule == ScaleRule::max_abs || amax == 0.0f) return base;
  // One pass over the rows scores every candidate, each row's errors kept
  // apart and summed afterwards so that the result does not depend on the
  // thread count.
  const auto& factors = search_factors();
  std::vector<std::array<double, kSearchFactorCount>> row_errs(static_cast<size_t>(rows));
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    for (int i = 0; i < kSearchFactorCount; ++i)
      row_errs[r][i] = e4m3_group_error(w + r * cols, importance, cols, base * factors[i]);
  double errs[kSearchFactorCount] = {};
  for (const auto& e : row_errs)
    for (int i = 0; i < kSearchFactorCount; ++i) errs[i] += e[i];
  // Start from the max-abs candidate so that it wins ties.
  int best = 0;
  for (int i = 0; i < kSearchFactorCount; ++i)
    if (factors[i] == 1.0f) best = i;
  for (int i = 0; i < kSearchFactorCount; ++i)
    if (errs[i] < errs[best]) best = i;
  return base * factors[best];
}

}  // namespace

Fp8Weights quantize_fp8(const float* w, int64_t rows, int64_t cols, Fp8Granularity granularity,
                        const float* importance, ScaleRule rule) {
  if (rows < 0 || cols <= 0) fail("FP8: bad weight shape [{}, {}]", rows, cols);
  Fp8Weights q;
  q.rows = rows;
  q.cols = cols;
  q.granularity = granularity;
  q.codes.resize(size_t(rows * cols));
  if (granularity == Fp8Granularity::per_tensor) {
    q.scales.assign(1, best_tensor_scale(w, rows, cols, importance, rule));
  } else {
    q.scales.resize(size_t(rows));
  }
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = w + r * cols;
    float s;
    if (granularity == Fp8Granularity::per_channel) {
      s = best_row_scale(x, cols, importance, rule);
      q.scales[r] = s;
    } else {
      s = q.scales[0];
    }
    encode_e4m3_group(x, cols, s, q.codes.data() + r * cols);
  }
  return q;
}

void dequantize_fp8(const uint8_t* codes, const float* scales, Fp8Granularity granularity, int64_t rows,
                    int64_t cols, float* out) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float s = granularity == Fp8Granularity::per_tensor ? scales[0] : scales[r];
    for (int64_t j = 0; j < cols; ++j) out[r * cols + j] = decode_e4m3(codes[r * cols + j]) * s;
  }
}

}  // namespace llmq::fp
