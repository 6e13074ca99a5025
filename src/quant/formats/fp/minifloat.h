#pragma once
// Element codecs for the low-precision float formats of OCP MX, vLLM and
// llm-compressor: FP8 E4M3 ("e4m3fn"), FP8 E5M2, FP4 E2M1 and the E8M0 scale.
//
// Every encoder rounds to nearest, ties to even (as PyTorch casts do) and
// saturates values beyond the largest finite number to that number, which is
// what torch's float8_e4m3fn cast does after the clamp that quantizers apply.
#include <cmath>
#include <cstdint>

#include "quant/formats/fp/minifloat_detail.h"

namespace llmq::fp {

// --- FP8 E4M3 (OCP "e4m3fn") -------------------------------------------------
// bias 7, no infinities, S.1111.111 is NaN, largest finite 448, smallest
// subnormal 2^-9. NaN encodes as 0x7F with the input's sign.
inline constexpr float kE4M3Max = 448.0f;
inline constexpr uint8_t kE4M3MaxCode = 0x7E;
inline constexpr uint8_t kE4M3NaN = 0x7F;
inline uint8_t encode_e4m3(float x) {
  const uint32_t sign = detail::sign_bit(x) << 7;
  if (std::isnan(x)) return uint8_t(sign | kE4M3NaN);
  uint32_t mag = detail::E4M3::round_magnitude(std::fabs(x));
  if (mag > kE4M3MaxCode) mag = kE4M3MaxCode;  // also catches 480 (the NaN pattern) and inf
  return uint8_t(sign | mag);
}
inline float decode_e4m3(uint8_t code) { return detail::kE4M3Values[code]; }
inline bool e4m3_is_nan(uint8_t code) { return (code & 0x7Fu) == kE4M3NaN; }  // 0x7F and 0xFF

// --- FP8 E5M2 ------------------------------------------------------------------
// IEEE-like: bias 15, infinities 0x7C/0xFC, NaN when exponent is all ones and
// mantissa non-zero, largest finite 57344. With saturate=true finite overflow
// and infinities encode as +-57344 (the "satfinite" convention); with false,
// they encode as +-infinity. NaN encodes as 0x7E with the input's sign.
inline constexpr float kE5M2Max = 57344.0f;
inline constexpr uint8_t kE5M2MaxCode = 0x7B;
inline uint8_t encode_e5m2(float x, bool saturate = true) {
  const uint32_t sign = detail::sign_bit(x) << 7;
  if (std::isnan(x)) return uint8_t(sign | 0x7Eu);
  uint32_t mag = detail::E5M2::round_magnitude(std::fabs(x));
  if (mag > kE5M2MaxCode) mag = saturate ? kE5M2MaxCode : 0x7Cu;
  return uint8_t(sign | mag);
}
inline float decode_e5m2(uint8_t code) { return detail::kE5M2Values[code]; }

// --- FP4 E2M1 ------------------------------------------------------------------
// Magnitudes {0, 0.5, 1, 1.5, 2, 3, 4, 6}; the code is a nibble: bit 3 sign,
// bits 2..1 exponent (bias 1), bit 0 mantissa. No NaN or infinity exists, so
// +-inf saturates to +-6 and NaN encodes as 0 (quantizers never feed it NaN).
inline constexpr float kE2M1Max = 6.0f;
// The sign is kept, so small negatives give -0 (code 8), as float casts do.
inline uint8_t encode_e2m1(float x) {  // result in the low nibble
  if (std::isnan(x)) return 0;
  const uint32_t sign = detail::sign_bit(x) << 3;
  uint32_t mag = detail::E2M1::round_magnitude(std::fabs(x));
  if (mag > 7u) mag = 7u;
  return uint8_t(sign | mag);
}
inline float decode_e2m1(uint8_t code) { return detail::kE2M1Values[code & 0x0Fu]; }  // low nibble only

// --- E8M0 (MX shared scale) ------------------------------------------------------
// A pure power of two 2^(e-127) for e in 0..254; 255 is NaN.
inline constexpr uint8_t kE8M0NaN = 0xFF;
float decode_e8m0(uint8_t e);
// The code of 2^exponent, clamped to the representable range [-127, 127].
uint8_t e8m0_from_exponent(int exponent);
inline int e8m0_exponent(uint8_t e) { return int(e) - 127; }

}  // namespace llmq::fp
