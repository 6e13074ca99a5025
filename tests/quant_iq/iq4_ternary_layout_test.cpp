// Dequantisation of hand-built IQ4_NL, IQ4_XS, TQ1_0 and TQ2_0 blocks: the
// bytes are written here from ggml's format description (field offsets, bit
// positions, level table) and the expected floats worked out by hand.
#include <gtest/gtest.h>

#include <vector>

#include "quant/formats/ggml/ggml_quants.h"

namespace {

using namespace llmq::ggml;

constexpr uint16_t kHalf0_5 = 0x3800;
constexpr uint16_t kHalf0_25 = 0x3400;

void put_u16(std::vector<uint8_t>& b, size_t offset, uint16_t v) {
  b[offset] = uint8_t(v & 0xFF);
  b[offset + 1] = uint8_t(v >> 8);
}

// IQ4_NL: d @0, qs[16] @2; levels -127 -104 -83 -65 -49 -35 -22 -10 1 13 25 38 53 69 89 113.
TEST(IqLayout, IQ4_NL) {
  std::vector<uint8_t> b(18, 0);
  put_u16(b, 0, kHalf0_5);
  b[2 + 0] = 0xF0;  // value 0: level 0 (-127), value 16: level 15 (113)
  b[2 + 5] = 0x98;  // value 5: level 8 (1), value 21: level 9 (13)
  std::vector<float> y(32);
  dequantize_row_iq4_nl(b.data(), y.data(), 32);
  EXPECT_FLOAT_EQ(y[0], -63.5f);
  EXPECT_FLOAT_EQ(y[16], 56.5f);
  EXPECT_FLOAT_EQ(y[5], 0.5f);
  EXPECT_FLOAT_EQ(y[21], 6.5f);
  EXPECT_FLOAT_EQ(y[31], -63.5f);
}

// IQ4_XS: d @0, scales_h @2 (u16), scales_l[4] @4, qs[128] @8.
// Sub-block j: ls = nibble j%2 of scales_l[j/2] | (scales_h bits 2j..2j+1) << 4; x = d*(ls-32)*level.
TEST(IqLayout, IQ4_XS) {
  std::vector<uint8_t> b(136, 0);
  put_u16(b, 0, kHalf0_25);
  // ls: sub-block 0 = 33 (scale 1), 3 = 0 (-32), 5 = 63 (+31), the rest 32 (scale 0).
  // Top bits per sub-block: 2 2 2 0 2 3 2 2 -> 0b10_10_11_10_00_10_10_10 = 0xAE2A.
  put_u16(b, 2, 0xAE2A);
  b[4 + 0] = 0x01;  // sub-blocks 0 (low 1) and 1 (high 0)
  b[4 + 1] = 0x00;  // sub-blocks 2, 3
  b[4 + 2] = 0xF0;  // sub-blocks 4 (0), 5 (15)
  b[4 + 3] = 0x00;
  b[8 + 0] = 0x0F;        // value 0: level 15 (113), value 16: level 0
  b[8 + 16 * 3] = 0x9F;   // value 96: level 15, value 112: level 9 (13)
  b[8 + 16 * 5 + 1] = 0x07;  // value 161: level 7 (-10), value 177: level 0 (-127)
  std::vector<float> y(256);
  dequantize_row_iq4_xs(b.data(), y.data(), 256);
  EXPECT_FLOAT_EQ(y[0], 0.25f * 1 * 113);
  EXPECT_FLOAT_EQ(y[16], 0.25f * 1 * -127);
  EXPECT_FLOAT_EQ(y[96], 0.25f * -32 * 113);
  EXPECT_FLOAT_EQ(y[112], 0.25f * -32 * 13);
  EXPECT_FLOAT_EQ(y[161], 0.25f * 31 * -10);
  EXPECT_FLOAT_EQ(y[177], 0.25f * 31 * -127);
  EXPECT_FLOAT_EQ(y[40], 0.f);  // sub-block 1: ls 32
}

// TQ2_0: qs[64] @0, d @64. qs[32c+m] bits 2k..2k+1 = value 128c+32k+m, x = d*(q-1).
TEST(IqLayout, TQ2_0) {
  std::vector<uint8_t> b(66, 0);
  put_u16(b, 64, kHalf0_5);
  b[0] = 0x92;       // values 0, 32, 64, 96: q = 2, 0, 1, 2
  b[32 + 5] = 0x03;  // value 133: q = 3 (decodes to 2d), values 165, 197, 229: q = 0
  std::vector<float> y(256);
  dequantize_row_tq2_0(b.data(), y.data(), 256);
  EXPECT_FLOAT_EQ(y[0], 0.5f);
  EXPECT_FLOAT_EQ(y[32], -0.5f);
  EXPECT_FLOAT_EQ(y[64], 0.f);
  EXPECT_FLOAT_EQ(y[96], 0.5f);
  EXPECT_FLOAT_EQ(y[133], 1.0f);
  EXPECT_FLOAT_EQ(y[165], -0.5f);
  EXPECT_FLOAT_EQ(y[1], -0.5f);
}

// TQ1_0: qs[48] @0, qh[4] @48, d @52. A byte holds trits t0..t4 (t0 most
// significant) as ceil((81 t0 + 27 t1 + 9 t2 + 3 t3 + t4) * 256 / 243).
// qs[m] (m<32): values m+32k; qs[32+m]: 160+m+16k; qh[j]: 240+j+4k (k<4).
TEST(IqLayout, TQ1_0) {
  std::vector<uint8_t> b(54, 0);
  put_u16(b, 52, kHalf0_5);
  b[3] = 207;       // trits 2 1 0 2 1: 162+27+0+6+1 = 196 -> ceil(206.48) = 207
  b[32 + 2] = 207;  // the same trits for values 162, 178, 194, 210, 226
  b[48 + 1] = 70;   // trits 0 2 1 1 (0): 54+9+3 = 66 -> ceil(69.53) = 70
  std::vector<float> y(256);
  dequantize_row_tq1_0(b.data(), y.data(), 256);
  const float expect_qs3[5] = {0.5f, 0.f, -0.5f, 0.5f, 0.f};
  for (int k = 0; k < 5; ++k) {
    EXPECT_FLOAT_EQ(y[3 + 32 * k], expect_qs3[k]) << k;
    EXPECT_FLOAT_EQ(y[162 + 16 * k], expect_qs3[k]) << k;
  }
  EXPECT_FLOAT_EQ(y[241], -0.5f);
  EXPECT_FLOAT_EQ(y[245], 0.5f);
  EXPECT_FLOAT_EQ(y[249], 0.f);
  EXPECT_FLOAT_EQ(y[253], 0.f);
  EXPECT_FLOAT_EQ(y[0], -0.5f);  // byte 0: every trit 0
}

}  // namespace
