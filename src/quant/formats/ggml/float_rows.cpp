// Rows stored as plain floats: F32, F16 (IEEE half) and BF16. Conversions
// round to nearest even and turn NaN into a quiet NaN, as ggml does, so an F16
// or BF16 row written here is bit-identical to ggml's for every value but NaN
// payloads (BF16 keeps the payload like ggml; F16 writes the canonical NaN).
// An importance matrix has nothing to choose here and is ignored.
#include <cstring>

#include "quant/formats/ggml/ggml_quants.h"
#include "util/half.h"

namespace llmq::ggml {

void quantize_row_f32(const float* x, void* y, int64_t n, const float* /*imatrix*/) {
  std::memcpy(y, x, size_t(n) * sizeof(float));
}

void dequantize_row_f32(const void* x, float* y, int64_t n) {
  std::memcpy(y, x, size_t(n) * sizeof(float));
}

// 16-bit outputs go through memcpy because a row inside a file image need not
// be 2-byte aligned.
void quantize_row_f16(const float* x, void* y, int64_t n, const float* /*imatrix*/) {
  auto* out = static_cast<uint8_t*>(y);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = f32_to_f16(x[i]);
    std::memcpy(out + 2 * i, &h, 2);
  }
}

void dequantize_row_f16(const void* x, float* y, int64_t n) {
  const auto* in = static_cast<const uint8_t*>(x);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, in + 2 * i, 2);
    y[i] = f16_to_f32(h);
  }
}

void quantize_row_bf16(const float* x, void* y, int64_t n, const float* /*imatrix*/) {
  auto* out = static_cast<uint8_t*>(y);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = f32_to_bf16(x[i]);
    std::memcpy(out + 2 * i, &h, 2);
  }
}

void dequantize_row_bf16(const void* x, float* y, int64_t n) {
  const auto* in = static_cast<const uint8_t*>(x);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, in + 2 * i, 2);
    y[i] = bf16_to_f32(h);
  }
}

}  // namespace llmq::ggml
