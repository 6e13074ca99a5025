// Encoders against a brute-force reference over every bfloat16 input: the
// nearest representable value found by scanning all codes, ties to the even
// code, saturating at the largest finite value. Complements the per-code
// tests in minifloat_test.cpp with every input pattern of a real weight dtype.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "quant/formats/fp/minifloat.h"
#include "util/half.h"

namespace llmq::fp {
namespace {

// The code among `codes` (sign-free magnitudes in increasing order of value)
// nearest to |x|, ties to the even code; beyond the top, the top.
template <typename Decode>
int nearest_magnitude(float a, int n_codes, Decode decode) {
  a = std::min(a, decode(n_codes - 1));  // saturation (also keeps the distances exact in double)
  int best = 0;
  for (int c = 1; c < n_codes; ++c) {
    const double d_best = std::fabs(double(decode(best)) - a), d = std::fabs(double(decode(c)) - a);
    if (d < d_best || (d == d_best && c % 2 == 0)) best = c;
  }
  return best;
}

TEST(MinifloatSweep, E4M3EncodesEveryBf16LikeTheNearestCode) {
  int checked = 0;
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const float x = bf16_to_f32(uint16_t(bits));
    if (std::isnan(x)) continue;
    const float a = std::fabs(x);
    // 0x00..0x7E are the finite magnitudes in increasing order; 0x7F is NaN.
    const int mag = std::isinf(a) ? 0x7E : nearest_magnitude(a, 0x7F, [](int c) { return decode_e4m3(uint8_t(c)); });
    const int want = mag | (std::signbit(x) ? 0x80 : 0);
    ASSERT_EQ(encode_e4m3(x), want) << "bf16 0x" << std::hex << bits << " = " << x;
    ++checked;
  }
  EXPECT_GT(checked, 65000);
}

TEST(MinifloatSweep, E2M1EncodesEveryBf16LikeTheNearestCode) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const float x = bf16_to_f32(uint16_t(bits));
    if (std::isnan(x)) continue;
    const float a = std::fabs(x);
    const int mag = std::isinf(a) ? 7 : nearest_magnitude(a, 8, [](int c) { return decode_e2m1(uint8_t(c)); });
    ASSERT_EQ(encode_e2m1(x), mag | (std::signbit(x) ? 8 : 0)) << "bf16 0x" << std::hex << bits << " = " << x;
  }
}

}  // namespace
}  // namespace llmq::fp
