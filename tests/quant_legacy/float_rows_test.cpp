// F32 / F16 / BF16 rows: exact bit patterns for special values, worked out
// from the IEEE layouts (sign | exponent | mantissa) by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "quant/formats/ggml/ggml_quants.h"

namespace {

using llmq::ggml::GgmlType;

float from_bits(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
uint32_t to_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }

std::vector<uint16_t> encode16(GgmlType type, const std::vector<float>& x) {
  std::vector<uint16_t> out(x.size());
  llmq::ggml::quantize_rows(type, x.data(), out.data(), 1, int64_t(x.size()));
  return out;
}

std::vector<float> decode16(GgmlType type, const std::vector<uint16_t>& h) {
  std::vector<float> out(h.size());
  llmq::ggml::dequantize_row(type, h.data(), out.data(), int64_t(h.size()));
  return out;
}

TEST(FloatRows, F16SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x = {
      0.0f, -0.0f, 1.0f, -2.0f,
      65504.0f,              // largest finite half: 0x7BFF
      65519.0f,              // below the halfway point to 65536: rounds down to 65504
      65520.0f,              // halfway: rounds to even = overflow to inf
      inf, -inf,
      std::ldexp(1.0f, -24),  // smallest subnormal: 0x0001
      std::ldexp(1.0f, -25),  // exactly half of it: ties to even -> 0
      std::ldexp(3.0f, -25),  // 1.5 subnormal steps -> 2 steps (even)
      std::ldexp(1023.0f, -24),  // largest subnormal: 0x03FF
      std::ldexp(1.0f, -14),  // smallest normal: 0x0400
      1.0f + std::ldexp(1.0f, -11),  // halfway between 1 and next half: ties to even -> 1.0
      1.0f + std::ldexp(3.0f, -11),  // halfway between 1+2^-10 and 1+2^-9: -> 1+2^-9 (0x3C02)
  };
  const std::vector<uint16_t> expected = {0x0000, 0x8000, 0x3C00, 0xC000, 0x7BFF, 0x7BFF, 0x7C00, 0x7C00, 0xFC00,
                                          0x0001, 0x0000, 0x0002, 0x03FF, 0x0400, 0x3C00, 0x3C02};
  EXPECT_EQ(encode16(GgmlType::F16, x), expected);

  // Decoding is exact (every half is a float).
  const std::vector<float> back = decode16(GgmlType::F16, {0x0000, 0x8000, 0x0001, 0x03FF, 0x7BFF, 0x7C00, 0xFC00, 0x3555});
  EXPECT_EQ(to_bits(back[0]), 0x00000000u);
  EXPECT_EQ(to_bits(back[1]), 0x80000000u);
  EXPECT_EQ(back[2], std::ldexp(1.0f, -24));
  EXPECT_EQ(back[3], std::ldexp(1023.0f, -24));
  EXPECT_EQ(back[4], 65504.0f);
  EXPECT_EQ(back[5], inf);
  EXPECT_EQ(back[6], -inf);
  EXPECT_EQ(back[7], std::ldexp(float(0x400 | 0x155), -12));  // exponent 13-15 = -2, mantissa 0x155

  // NaN stays NaN both ways (ggml writes a quiet NaN).
  const auto nan_bits = encode16(GgmlType::F16, {std::numeric_limits<float>::quiet_NaN(), from_bits(0x7F800001u)});
  for (uint16_t h : nan_bits) {
    EXPECT_EQ(h & 0x7C00, 0x7C00);
    EXPECT_NE(h & 0x03FF, 0);
  }
  EXPECT_TRUE(std::isnan(decode16(GgmlType::F16, {0x7E00})[0]));
}

TEST(FloatRows, BF16SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x = {
      0.0f, -0.0f, 1.0f, inf, -inf,
      from_bits(0x7F7FFFFFu),  // FLT_MAX rounds up to inf (ties-to-even carry), as ggml does
      from_bits(0x7F7F0000u),  // largest finite bf16, exact
      from_bits(0x00000001u),  // smallest float subnormal rounds to 0 (not flushed: rounds)
      from_bits(0x00010000u),  // subnormal representable in bf16: kept, not flushed
      from_bits(0x3F808000u),  // halfway between 0x3F80 and 0x3F81: ties to even -> 0x3F80
      from_bits(0x3F818000u),  // halfway between 0x3F81 and 0x3F82: -> 0x3F82
      from_bits(0x3F808001u),  // just above halfway -> 0x3F81
  };
  const std::vector<uint16_t> expected = {0x0000, 0x8000, 0x3F80, 0x7F80, 0xFF80, 0x7F80,
                                          0x7F7F, 0x0000, 0x0001, 0x3F80, 0x3F82, 0x3F81};
  EXPECT_EQ(encode16(GgmlType::BF16, x), expected);

  // ggml's NaN rule: keep the top 16 bits and set the quiet bit (0x40).
  EXPECT_EQ(encode16(GgmlType::BF16, {from_bits(0x7F800001u)})[0], 0x7FC0);  // signalling NaN -> quiet
  EXPECT_EQ(encode16(GgmlType::BF16, {from_bits(0xFFC12345u)})[0], 0xFFC1);  // payload kept, no rounding carry

  const auto back = decode16(GgmlType::BF16, {0x8000, 0x0001, 0x7F7F, 0xFF80, 0x3FC0});
  EXPECT_EQ(to_bits(back[0]), 0x80000000u);
  EXPECT_EQ(to_bits(back[1]), 0x00010000u);
  EXPECT_EQ(to_bits(back[2]), 0x7F7F0000u);
  EXPECT_EQ(back[3], -inf);
  EXPECT_EQ(back[4], 1.5f);
}

TEST(FloatRows, F32IsACopy) {
  const std::vector<float> x = {0.0f, -0.0f, from_bits(0x00000001u), std::numeric_limits<float>::infinity(),
                                from_bits(0x7FC01234u), 3.14159f};
  std::vector<uint32_t> packed(x.size());
  llmq::ggml::quantize_rows(GgmlType::F32, x.data(), packed.data(), 2, 3);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(packed[i], to_bits(x[i]));
  std::vector<float> back(x.size());
  llmq::ggml::dequantize_row(GgmlType::F32, packed.data(), back.data(), int64_t(x.size()));
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(to_bits(back[i]), to_bits(x[i]));
}

TEST(FloatRows, F16RoundTripOfEveryFiniteHalfIsExact) {
  // All 63488 finite halves decode to floats that encode back to the same bits.
  std::vector<uint16_t> all;
  for (uint32_t h = 0; h < 0x10000; ++h)
    if ((h & 0x7C00) != 0x7C00) all.push_back(uint16_t(h));
  EXPECT_EQ(encode16(GgmlType::F16, decode16(GgmlType::F16, all)), all);
}

}  // namespace
