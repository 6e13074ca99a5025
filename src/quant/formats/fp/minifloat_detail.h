#pragma once
// Implementation detail of minifloat.h: rounding f32 into a sign-magnitude
// binary float, and the decode tables. Inline because quantizers call the
// element codecs in their innermost loops.
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace llmq::fp::detail {

// A sign-magnitude binary float with kExp exponent bits, kMan mantissa bits
// and exponent bias kBias. All three formats here are instances of it; they
// differ only in what the top codes mean (NaN, infinity or a plain number).
template <int kExp, int kMan, int kBias>
struct Minifloat {
  static_assert(kMan >= 1 && kMan < 23 && kExp >= 1 && kExp < 8);

  // Magnitude code of |x| (finite or +inf, never NaN) rounded to nearest even.
  // The result may lie beyond the largest finite code: callers saturate.
  static uint32_t round_magnitude(float a) {
    const uint32_t bits = std::bit_cast<uint32_t>(a);
    constexpr uint32_t kMinNormalBits = uint32_t(127 - kBias + 1) << 23;  // 2^(1-bias) in f32
    if (bits >= kMinNormalBits) {
      // Normal in the target: drop the low mantissa bits of the f32 pattern
      // with ties to even; a carry out of the mantissa bumps the exponent,
      // which is exactly the right result. Then re-bias the exponent field.
      constexpr int kShift = 23 - kMan;
      const uint32_t rounded = bits + ((1u << (kShift - 1)) - 1u) + ((bits >> kShift) & 1u);
      return (rounded >> kShift) - (uint32_t(127 - kBias) << kMan);
    }
    // Subnormal in the target: a multiple of 2^(1-bias-kMan). Scaling by a
    // power of two is exact, and rint rounds ties to even in the default
    // rounding mode (one instruction with SSE4.1). A result of 2^kMan is the
    // smallest normal's code.
    constexpr float kScale = float(1ull << (kBias - 1 + kMan));
    return uint32_t(std::rint(a * kScale));
  }

  // Value of a magnitude code, ignoring what the format makes of the top codes.
  static constexpr float magnitude_value(uint32_t code) {
    const uint32_t exponent = code >> kMan;
    const uint32_t mantissa = code & ((1u << kMan) - 1u);
    if (exponent == 0) return float(mantissa) / float(1u << (kBias - 1 + kMan));
    return std::bit_cast<float>(((exponent - kBias + 127) << 23) | (mantissa << (23 - kMan)));
  }
};

using E4M3 = Minifloat<4, 3, 7>;
using E5M2 = Minifloat<5, 2, 15>;
using E2M1 = Minifloat<2, 1, 1>;

inline constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
inline constexpr float kInf = std::numeric_limits<float>::infinity();

constexpr std::array<float, 256> make_e4m3_table() {
  std::array<float, 256> t{};
  for (uint32_t c = 0; c < 256; ++c) {
    const uint32_t mag = c & 0x7Fu;
    const float v = mag == 0x7Fu ? kNaN : E4M3::magnitude_value(mag);  // S.1111.111 is NaN
    t[c] = (c & 0x80u) ? -v : v;
  }
  return t;
}

constexpr std::array<float, 256> make_e5m2_table() {
  std::array<float, 256> t{};
  for (uint32_t c = 0; c < 256; ++c) {
    const uint32_t mag = c & 0x7Fu;
    const float v = mag == 0x7Cu ? kInf : mag > 0x7Cu ? kNaN : E5M2::magnitude_value(mag);  // IEEE-like top binade
    t[c] = (c & 0x80u) ? -v : v;
  }
  return t;
}

constexpr std::array<float, 16> make_e2m1_table() {
  std::array<float, 16> t{};
  for (uint32_t c = 0; c < 16; ++c) {
    const float v = E2M1::magnitude_value(c & 7u);
    t[c] = (c & 8u) ? -v : v;
  }
  return t;
}

inline constexpr std::array<float, 256> kE4M3Values = make_e4m3_table();
inline constexpr std::array<float, 256> kE5M2Values = make_e5m2_table();
inline constexpr std::array<float, 16> kE2M1Values = make_e2m1_table();

inline uint32_t sign_bit(float x) { return std::bit_cast<uint32_t>(x) >> 31; }

}  // namespace llmq::fp::detail
