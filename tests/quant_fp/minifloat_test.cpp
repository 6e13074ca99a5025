// Element codecs checked against formulas written out here, independently of
// the bit manipulation in the implementation, over every code of each format.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "quant/formats/fp/minifloat.h"
#include "util/half.h"

namespace llmq::fp {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// OCP E4M3: sign * 2^(e-7) * (1 + m/8); subnormal 2^-6 * m/8; S.1111.111 NaN.
double e4m3_reference(uint8_t c) {
  const int s = c >> 7, e = (c >> 3) & 15, m = c & 7;
  if (e == 15 && m == 7) return std::nan("");
  const double v = e == 0 ? std::ldexp(m / 8.0, -6) : std::ldexp(1.0 + m / 8.0, e - 7);
  return s ? -v : v;
}

// E5M2: sign * 2^(e-15) * (1 + m/4); subnormal 2^-14 * m/4; e = 31: inf (m = 0) or NaN.
double e5m2_reference(uint8_t c) {
  const int s = c >> 7, e = (c >> 2) & 31, m = c & 3;
  double v;
  if (e == 31) v = m == 0 ? std::numeric_limits<double>::infinity() : std::nan("");
  else v = e == 0 ? std::ldexp(m / 4.0, -14) : std::ldexp(1.0 + m / 4.0, e - 15);
  return s ? -v : v;
}

TEST(E4M3, DecodesEveryCodeLikeTheFormula) {
  int nan_codes = 0;
  for (int c = 0; c < 256; ++c) {
    const double ref = e4m3_reference(uint8_t(c));
    const float got = decode_e4m3(uint8_t(c));
    if (std::isnan(ref)) {
      EXPECT_TRUE(std::isnan(got)) << c;
      EXPECT_TRUE(e4m3_is_nan(uint8_t(c))) << c;
      ++nan_codes;
    } else {
      EXPECT_EQ(double(got), ref) << "code " << c;
      EXPECT_FALSE(e4m3_is_nan(uint8_t(c))) << c;
    }
  }
  EXPECT_EQ(nan_codes, 2);  // 0x7F and 0xFF only: no infinities in e4m3fn
  EXPECT_EQ(decode_e4m3(0x7E), 448.0f);
  EXPECT_EQ(decode_e4m3(0xFE), -448.0f);
  EXPECT_EQ(decode_e4m3(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(decode_e4m3(0x08), std::ldexp(1.0f, -6));
  EXPECT_TRUE(std::signbit(decode_e4m3(0x80)));
}

TEST(E4M3, EncodeInvertsDecodeForEveryNumber) {
  for (int c = 0; c < 256; ++c) {
    if (e4m3_is_nan(uint8_t(c))) continue;
    EXPECT_EQ(encode_e4m3(decode_e4m3(uint8_t(c))), c) << "code " << c;
  }
  EXPECT_EQ(encode_e4m3(-0.0f), 0x80);
  EXPECT_EQ(encode_e4m3(0.0f), 0x00);
}

TEST(E4M3, MidpointsRoundToEvenAndNeighboursToNearest) {
  // Positive codes 0x00..0x7E increase in value; check every adjacent pair.
  for (int c = 0; c < 0x7E; ++c) {
    const float lo = decode_e4m3(uint8_t(c)), hi = decode_e4m3(uint8_t(c + 1));
    const float mid = (lo + hi) / 2;  // exact: few significant bits
    ASSERT_GT(mid, lo);
    ASSERT_LT(mid, hi);
    const int even = (c % 2 == 0) ? c : c + 1;
    EXPECT_EQ(encode_e4m3(mid), even) << "between codes " << c << " and " << c + 1;
    EXPECT_EQ(encode_e4m3(-mid), even | 0x80);
    EXPECT_EQ(encode_e4m3(std::nextafter(mid, kInf)), c + 1);
    EXPECT_EQ(encode_e4m3(std::nextafter(mid, 0.0f)), c);
    EXPECT_EQ(encode_e4m3(-std::nextafter(mid, kInf)), (c + 1) | 0x80);
  }
  EXPECT_EQ(encode_e4m3(std::ldexp(1.0f, -10)), 0x00);  // half the smallest subnormal: tie to 0
  EXPECT_EQ(encode_e4m3(1e-30f), 0x00);
  EXPECT_EQ(encode_e4m3(-1e-30f), 0x80);
  // Values PyTorch gives for float8_e4m3fn casts.
  EXPECT_EQ(encode_e4m3(0.1f), 0x1D);  // 0.1015625
  EXPECT_EQ(encode_e4m3(300.0f), 0x79);  // 288
  EXPECT_EQ(encode_e4m3(-1.0f), 0xB8);
}

TEST(E4M3, SaturatesBeyond448AndKeepsNaN) {
  for (float v : {448.0f, 449.0f, 464.0f, 465.0f, 479.9f, 480.0f, 500.0f, 1e10f, 3e38f, kInf}) {
    EXPECT_EQ(encode_e4m3(v), 0x7E) << v;
    EXPECT_EQ(encode_e4m3(-v), 0xFE) << v;
  }
  EXPECT_EQ(encode_e4m3(440.0f), 0x7E);  // rounds up to 448
  EXPECT_EQ(encode_e4m3(431.0f), 0x7D);  // 416
  EXPECT_TRUE(e4m3_is_nan(encode_e4m3(std::nanf(""))));
  EXPECT_TRUE(e4m3_is_nan(encode_e4m3(-std::nanf(""))));
}

TEST(E5M2, DecodesEveryCodeLikeTheFormula) {
  for (int c = 0; c < 256; ++c) {
    const double ref = e5m2_reference(uint8_t(c));
    const float got = decode_e5m2(uint8_t(c));
    if (std::isnan(ref)) EXPECT_TRUE(std::isnan(got)) << c;
    else EXPECT_EQ(double(got), ref) << "code " << c;
  }
  EXPECT_EQ(decode_e5m2(0x7B), 57344.0f);
  EXPECT_EQ(decode_e5m2(0x7C), kInf);
  EXPECT_EQ(decode_e5m2(0xFC), -kInf);
}

TEST(E5M2, EncodeInvertsDecodeAndIsTheTopByteOfFp16) {
  for (int c = 0; c < 256; ++c) {
    const float v = decode_e5m2(uint8_t(c));
    if (std::isnan(v)) continue;
    if (!std::isinf(v)) {
      EXPECT_EQ(encode_e5m2(v), c) << "code " << c;
    }
    EXPECT_EQ(encode_e5m2(v, /*saturate=*/false), c) << "code " << c;
    // E5M2 is fp16 with the low 8 mantissa bits dropped.
    EXPECT_EQ(f32_to_f16(v) >> 8, c) << "code " << c;
  }
  for (int c = 0; c < 0x7B; ++c) {
    const float lo = decode_e5m2(uint8_t(c)), hi = decode_e5m2(uint8_t(c + 1));
    const float mid = (lo + hi) / 2;
    EXPECT_EQ(encode_e5m2(mid), (c % 2 == 0) ? c : c + 1) << c;
    EXPECT_EQ(encode_e5m2(std::nextafter(mid, kInf)), c + 1);
    EXPECT_EQ(encode_e5m2(std::nextafter(mid, 0.0f)), c);
  }
}

TEST(E5M2, OverflowSaturatesOrGoesToInfinity) {
  EXPECT_EQ(encode_e5m2(61440.0f), 0x7B);  // halfway to the next binade step
  EXPECT_EQ(encode_e5m2(61440.0f, false), 0x7C);
  EXPECT_EQ(encode_e5m2(61439.0f, false), 0x7B);
  EXPECT_EQ(encode_e5m2(kInf), 0x7B);
  EXPECT_EQ(encode_e5m2(-kInf), 0xFB);
  EXPECT_EQ(encode_e5m2(-kInf, false), 0xFC);
  EXPECT_EQ(encode_e5m2(1e9f, false), 0x7C);
  EXPECT_TRUE(std::isnan(decode_e5m2(encode_e5m2(std::nanf("")))));
}

TEST(E2M1, AllSixteenCodes) {
  const float expected[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
  for (int c = 0; c < 16; ++c) {
    EXPECT_EQ(decode_e2m1(uint8_t(c)), expected[c]) << c;
    EXPECT_EQ(std::signbit(decode_e2m1(uint8_t(c))), c >= 8) << c;
    EXPECT_EQ(encode_e2m1(expected[c]), c) << c;
    EXPECT_EQ(decode_e2m1(uint8_t(c | 0xF0)), expected[c]) << "high nibble must be ignored";
  }
}

TEST(E2M1, RoundsToNearestEvenAndSaturates) {
  // midpoint, the codes either side, and where the tie goes (the even code)
  struct Case { float mid; uint8_t below, above, tie; };
  const Case midpoints[] = {{0.25f, 0, 1, 0}, {0.75f, 1, 2, 2}, {1.25f, 2, 3, 2}, {1.75f, 3, 4, 4},
                            {2.5f, 4, 5, 4},  {3.5f, 5, 6, 6}, {5.0f, 6, 7, 6}};
  for (auto [mid, below, above, tie] : midpoints) {
    EXPECT_EQ(encode_e2m1(mid), tie) << mid;
    EXPECT_EQ(encode_e2m1(-mid), tie | 8) << mid;
    EXPECT_EQ(encode_e2m1(std::nextafter(mid, kInf)), above) << mid;
    EXPECT_EQ(encode_e2m1(std::nextafter(mid, 0.0f)), below) << mid;
  }
  EXPECT_EQ(encode_e2m1(0.2499f), 0);
  EXPECT_EQ(encode_e2m1(0.2501f), 1);
  EXPECT_EQ(encode_e2m1(2.4f), 4);
  EXPECT_EQ(encode_e2m1(2.6f), 5);
  EXPECT_EQ(encode_e2m1(4.9f), 6);
  EXPECT_EQ(encode_e2m1(5.1f), 7);
  for (float v : {6.0f, 6.5f, 7.0f, 100.0f, kInf}) {
    EXPECT_EQ(encode_e2m1(v), 7) << v;
    EXPECT_EQ(encode_e2m1(-v), 15) << v;
  }
}

TEST(E8M0, AllCodesArePowersOfTwoOrNaN) {
  for (int e = 0; e < 255; ++e) {
    EXPECT_EQ(decode_e8m0(uint8_t(e)), std::ldexp(1.0f, e - 127)) << e;
    EXPECT_EQ(e8m0_from_exponent(e - 127), e);
    EXPECT_EQ(e8m0_exponent(uint8_t(e)), e - 127);
  }
  EXPECT_TRUE(std::isnan(decode_e8m0(255)));
  EXPECT_EQ(decode_e8m0(127), 1.0f);
  EXPECT_GT(decode_e8m0(0), 0.0f);  // 2^-127 is an f32 subnormal, not zero
  EXPECT_EQ(e8m0_from_exponent(-500), 0);
  EXPECT_EQ(e8m0_from_exponent(500), 254);
}

}  // namespace
}  // namespace llmq::fp
