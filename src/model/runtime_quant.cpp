#include "model/runtime_quant.h"

#include <algorithm>
#include <cmath>

#include "quant/formats/fp/minifloat.h"
#include "util/error.h"

namespace llmq {

namespace {

// vLLM's dynamic FP8 quantizer floors the per-token scale here so that an
// all-zero or tiny row does not divide by zero.
constexpr float kMinFp8TokenScale = 1.0f / (fp::kE4M3Max * 512.0f);
constexpr int64_t kParallelMinValues = 1 << 15;

float row_max_abs(const float* x, int64_t n) {
  float m = 0.0f;
  for (int64_t j = 0; j < n; ++j) m = std::fmax(m, std::fabs(x[j]));
  return m;
}

// round to nearest even, saturating to int8, by the inverse scale as vLLM's kernels multiply
void int8_row(float* x, int64_t n, float inv_scale, float scale) {
  for (int64_t j = 0; j < n; ++j) {
    const float q = std::clamp(std::nearbyint(x[j] * inv_scale), -128.0f, 127.0f);
    x[j] = q * scale;
  }
}

void fp8_row(float* x, int64_t n, float scale) {
  const float inv = 1.0f / scale;
  for (int64_t j = 0; j < n; ++j) x[j] = fp::decode_e4m3(fp::encode_e4m3(x[j] * inv)) * scale;
}

}  // namespace

const char* act_quant_type_name(ActQuantType t) {
  switch (t) {
    case ActQuantType::None: return "none";
    case ActQuantType::Int8: return "int8";
    case ActQuantType::Fp8: return "fp8";
  }
  return "?";
}

bool LinearInputQuant::quantizes(int layer, LinearSlot slot) const {
  if (!enabled()) return false;
  const size_t i = size_t(layer) * 4 + size_t(slot);
  return quantized_inputs.empty() || (i < quantized_inputs.size() && quantized_inputs[i] != 0);
}

float LinearInputQuant::static_scale(int layer, LinearSlot slot) const {
  const size_t i = size_t(layer) * 4 + size_t(slot);
  if (i >= static_scales.size()) fail("no static activation scale for layer {} {}", layer, linear_slot_name(slot));
  return static_scales[i];
}

void fake_quantize_int8_per_token(float* X, int64_t T, int64_t n) {
#pragma omp parallel for schedule(static) if (T * n >= kParallelMinValues)
  for (int64_t t = 0; t < T; ++t) {
    float* x = X + t * n;
    const float amax = row_max_abs(x, n);
    if (amax == 0.0f) continue;  // the runtime's inverse scale is 0: the row stays zero
    int8_row(x, n, 127.0f / amax, amax / 127.0f);
  }
}

void fake_quantize_fp8_per_token(float* X, int64_t T, int64_t n) {
#pragma omp parallel for schedule(static) if (T * n >= kParallelMinValues)
  for (int64_t t = 0; t < T; ++t) {
    float* x = X + t * n;
    fp8_row(x, n, std::fmax(row_max_abs(x, n) / fp::kE4M3Max, kMinFp8TokenScale));
  }
}

void fake_quantize_int8_static(float* x, int64_t n, float scale) {
  if (!(scale > 0.0f)) fail("static int8 activation scale must be positive, got {}", scale);
#pragma omp parallel for schedule(static) if (n >= kParallelMinValues)
  for (int64_t i = 0; i < n; i += 4096) int8_row(x + i, std::min<int64_t>(4096, n - i), 1.0f / scale, scale);
}

void fake_quantize_fp8_static(float* x, int64_t n, float scale) {
  if (!(scale > 0.0f)) fail("static FP8 scale must be positive, got {}", scale);
#pragma omp parallel for schedule(static) if (n >= kParallelMinValues)
  for (int64_t i = 0; i < n; i += 4096) fp8_row(x + i, std::min<int64_t>(4096, n - i), scale);
}

void fake_quantize_linear_input(const LinearInputQuant& q, int layer, LinearSlot slot, float* X, int64_t T,
                                int64_t n) {
  if (T <= 0 || !q.quantizes(layer, slot)) return;
  if (q.dynamic) {
    if (q.type == ActQuantType::Int8) fake_quantize_int8_per_token(X, T, n);
    else fake_quantize_fp8_per_token(X, T, n);
    return;
  }
  const float s = q.static_scale(layer, slot);
  if (q.type == ActQuantType::Int8) fake_quantize_int8_static(X, T * n, s);
  else fake_quantize_fp8_static(X, T * n, s);
}

}  // namespace llmq
