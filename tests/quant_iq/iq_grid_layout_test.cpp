// Dequantisation of hand-built IQ1_S .. IQ3_S blocks: the bytes are written
// here from ggml's format description (field offsets, bit positions, scale
// formulas), the grid entries used are quoted from ggml's tables, and the
// expected floats are worked out by hand.
#include <gtest/gtest.h>

#include <vector>

#include "quant/formats/ggml/ggml_quants.h"

namespace {

using namespace llmq::ggml;

void put_u16(std::vector<uint8_t>& b, size_t offset, uint16_t v) {
  b[offset] = uint8_t(v & 0xFF);
  b[offset + 1] = uint8_t(v >> 8);
}
void put_u32(std::vector<uint8_t>& b, size_t offset, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[offset + i] = uint8_t(v >> (8 * i));
}
std::vector<float> decode(void (*dequantize)(const void*, float*, int64_t), const std::vector<uint8_t>& block) {
  std::vector<float> y(256);
  dequantize(block.data(), y.data(), 256);
  return y;
}

// IQ2_XXS: d @0; per 32 values 8 bytes @2+8j: u32 of 4 grid indices, u32 of
// 4 x 7 sign bits (8th sign = parity) and scale l in bits 28..31;
// x = d * (0.5 + l) / 4 * grid * sign.
// iq2xxs_grid[1] = 0x080808080808082b, [200] = 0x192b081908080808 (byte i = value i).
TEST(IqGridLayout, IQ2_XXS) {
  std::vector<uint8_t> b(66, 0);
  put_u16(b, 0, 0x3C00);  // d = 1
  put_u32(b, 2, 1);                // sub-block 0: group 0 -> point 1, groups 1..3 -> point 0
  put_u32(b, 6, 0x30000001);       // l = 3; group 0 signs 0000001 -> values 0 and 7 negative (parity)
  put_u32(b, 2 + 40, 200 << 8);    // sub-block 5: group 1 -> point 200
  put_u32(b, 6 + 40, 0xF0000180);  // l = 15; group 1 signs 0000011 (even: value 7 stays positive)
  const auto y = decode(dequantize_row_iq2_xxs, b);
  EXPECT_FLOAT_EQ(y[0], -0.875f * 43);  // (0.5 + 3) / 4 = 0.875
  EXPECT_FLOAT_EQ(y[1], 0.875f * 8);
  EXPECT_FLOAT_EQ(y[7], -0.875f * 8);
  EXPECT_FLOAT_EQ(y[8], 0.875f * 8);
  EXPECT_FLOAT_EQ(y[168], -3.875f * 8);  // (0.5 + 15) / 4
  EXPECT_FLOAT_EQ(y[169], -3.875f * 8);
  EXPECT_FLOAT_EQ(y[172], 3.875f * 25);
  EXPECT_FLOAT_EQ(y[174], 3.875f * 43);
  EXPECT_FLOAT_EQ(y[175], 3.875f * 25);
}

// IQ2_XS: d @0, qs u16[32] @2 (9-bit index | 7 sign bits << 9), scales[8] @66
// (low nibble: values 32j..32j+15, high: 32j+16..). x = d * (0.5 + l) / 4 * grid * sign.
// iq2xs_grid[5] = 0x0808080808190819, [300] = 0x1908190808191908.
TEST(IqGridLayout, IQ2_XS) {
  std::vector<uint8_t> b(74, 0);
  put_u16(b, 0, 0x3800);             // d = 0.5
  put_u16(b, 2, 5 | (4 << 9));       // group 0: point 5, signs 0000100 -> values 2 and 7 negative
  put_u16(b, 2 + 6, 300);            // group 3: point 300
  b[66] = 0x72;                      // l = 2 for values 0..15, 7 for 16..31
  const auto y = decode(dequantize_row_iq2_xs, b);
  EXPECT_FLOAT_EQ(y[0], 0.3125f * 25);  // 0.5 * 2.5 / 4
  EXPECT_FLOAT_EQ(y[1], 0.3125f * 8);
  EXPECT_FLOAT_EQ(y[2], -0.3125f * 25);
  EXPECT_FLOAT_EQ(y[7], -0.3125f * 8);
  EXPECT_FLOAT_EQ(y[8], 0.3125f * 8);   // group 1: point 0 (all 8)
  EXPECT_FLOAT_EQ(y[24], 0.9375f * 8);  // 0.5 * 7.5 / 4
  EXPECT_FLOAT_EQ(y[25], 0.9375f * 25);
  EXPECT_FLOAT_EQ(y[31], 0.9375f * 25);
}

// IQ2_S: d @0, qs[64] @2 (low index bytes, then one free sign byte per group),
// qh[8] @66 (2 top index bits per group), scales[8] @74 as IQ2_XS.
// iq2s_grid[3] = 0x0808080808082b08, [700] = 0x1919082b2b080808.
TEST(IqGridLayout, IQ2_S) {
  std::vector<uint8_t> b(82, 0);
  put_u16(b, 0, 0x3C00);
  b[2 + 0] = 3;       // group 0: point 3
  b[2 + 32] = 0x81;   // group 0 signs: values 0 and 7 negative
  b[2 + 2] = 0xBC;    // group 2: point 700 = 0x2BC
  b[66] = 2 << 4;     // its top bits (group 2: bits 4..5 of qh[0])
  b[2 + 34] = 0x02;   // group 2 signs: value 17 negative
  b[74] = 0x51;       // l = 1 for values 0..15, 5 for 16..31
  const auto y = decode(dequantize_row_iq2_s, b);
  EXPECT_FLOAT_EQ(y[0], -0.375f * 8);  // 1.5 / 4
  EXPECT_FLOAT_EQ(y[1], 0.375f * 43);
  EXPECT_FLOAT_EQ(y[7], -0.375f * 8);
  EXPECT_FLOAT_EQ(y[16], 1.375f * 8);  // 5.5 / 4
  EXPECT_FLOAT_EQ(y[17], -1.375f * 8);
  EXPECT_FLOAT_EQ(y[19], 1.375f * 43);
  EXPECT_FLOAT_EQ(y[22], 1.375f * 25);
}

// IQ3_XXS: d @0, qs[64] @2 (one index per 4 values), then per 32 values a
// u32 @66+4j: 4 x 7 sign bits, scale l in bits 28..31; x = d * (0.5 + l) / 2 * grid * sign.
// iq3xxs_grid[2] = 0x04040424, [100] = 0x14040c1c.
TEST(IqGridLayout, IQ3_XXS) {
  std::vector<uint8_t> b(98, 0);
  put_u16(b, 0, 0x3C00);
  b[2 + 0] = 2;
  b[2 + 1] = 100;
  put_u32(b, 66, 0x10000040);  // l = 1; signs 1000000 -> values 6 and 7 negative
  const auto y = decode(dequantize_row_iq3_xxs, b);
  EXPECT_FLOAT_EQ(y[0], 0.75f * 36);  // 1.5 / 2
  EXPECT_FLOAT_EQ(y[1], 0.75f * 4);
  EXPECT_FLOAT_EQ(y[4], 0.75f * 28);
  EXPECT_FLOAT_EQ(y[5], 0.75f * 12);
  EXPECT_FLOAT_EQ(y[6], -0.75f * 4);
  EXPECT_FLOAT_EQ(y[7], -0.75f * 20);
}

// IQ3_S: d @0, qs[64] @2 (low index bytes), qh[8] @66 (bit k: top bit of
// index k of 32-value block j), signs[32] @74, scales[4] @106 (low nibble:
// values 64i..64i+31); x = d * (1 + 2l) * grid * sign.
// iq3s_grid[7] = 0x01010305, [300] = 0x07030503.
TEST(IqGridLayout, IQ3_S) {
  std::vector<uint8_t> b(110, 0);
  put_u16(b, 0, 0x3800);  // d = 0.5
  b[2 + 0] = 7;
  b[2 + 1] = 300 & 255;
  b[66] = 0x02;      // index 1's top bit
  b[74] = 0x30;      // values 4 and 5 negative
  b[106] = 0x02;     // l = 2 for values 0..31, 0 for 32..63
  b[2 + 8] = 7;      // values 32..35: point 7
  const auto y = decode(dequantize_row_iq3_s, b);
  EXPECT_FLOAT_EQ(y[0], 2.5f * 5);  // 0.5 * (1 + 4)
  EXPECT_FLOAT_EQ(y[1], 2.5f * 3);
  EXPECT_FLOAT_EQ(y[2], 2.5f * 1);
  EXPECT_FLOAT_EQ(y[4], -2.5f * 3);
  EXPECT_FLOAT_EQ(y[5], -2.5f * 5);
  EXPECT_FLOAT_EQ(y[7], 2.5f * 7);
  EXPECT_FLOAT_EQ(y[32], 0.5f * 5);
}

// IQ1_S: d @0, qs[32] @2, qh u16[8] @34 (bits 3k..3k+2 top index bits,
// 12..14 scale l, 15 negative delta); x = d * (2l + 1) * (grid +- 1/8).
// iq1s_grid[0] = -1 x 8, [1] = 0xffffffffffffff01, [1500] = 0x01ff00ff00ffff00 (signed bytes).
TEST(IqGridLayout, IQ1_S) {
  std::vector<uint8_t> b(50, 0);
  put_u16(b, 0, 0x3400);  // d = 0.25
  b[2 + 0] = 1;
  b[2 + 1] = 0xDC;                  // group 1: point 1500 = 0x5DC
  put_u16(b, 34, 0x8000 | 0x2000 | (5 << 3));  // delta -1/8, l = 2, group 1 top bits 5
  const auto y = decode(dequantize_row_iq1_s, b);
  EXPECT_FLOAT_EQ(y[0], 1.25f * (1 - 0.125f));  // 0.25 * 5
  EXPECT_FLOAT_EQ(y[1], 1.25f * (-1 - 0.125f));
  EXPECT_FLOAT_EQ(y[8], 1.25f * -0.125f);
  EXPECT_FLOAT_EQ(y[9], 1.25f * (-1 - 0.125f));
  EXPECT_FLOAT_EQ(y[15], 1.25f * (1 - 0.125f));
  EXPECT_FLOAT_EQ(y[32], 0.25f * (-1 + 0.125f));  // sub-block 1: l = 0, delta +1/8, point 0
}

// IQ1_M: qs[32] @0, qh[16] @32 (a nibble per group: top 3 index bits, bit 3
// negative delta), scales[8] @48 as four u16: 3-bit l per 16 values, fp16 d
// in the top nibbles (u16 i bits 12..15 = d bits 4i..4i+3); x = d * (2l + 1) * (grid +- 1/8).
TEST(IqGridLayout, IQ1_M) {
  std::vector<uint8_t> b(56, 0);
  b[0] = 1;          // group 0: point 1
  b[1] = 0xDC;       // group 1: point 1500 = 0x5DC
  b[32] = 0xD0;      // group 1: top bits 5, negative delta; group 0: 0, positive
  b[2] = 1;          // group 2: point 1
  b[33] = 0x08;      // group 2: negative delta
  // d = 1.0 = 0x3C00 -> nibbles 0, 0, 0xC, 0x3; l = 1 (values 0..15), 2 (16..31).
  put_u16(b, 48, 1 | (2 << 3));
  put_u16(b, 50, 0x0000);
  put_u16(b, 52, 0xC000);
  put_u16(b, 54, 0x3000);
  const auto y = decode(dequantize_row_iq1_m, b);
  EXPECT_FLOAT_EQ(y[0], 3 * (1 + 0.125f));
  EXPECT_FLOAT_EQ(y[1], 3 * (-1 + 0.125f));
  EXPECT_FLOAT_EQ(y[8], 3 * -0.125f);
  EXPECT_FLOAT_EQ(y[9], 3 * (-1 - 0.125f));
  EXPECT_FLOAT_EQ(y[15], 3 * (1 - 0.125f));
  EXPECT_FLOAT_EQ(y[16], 5 * (1 - 0.125f));
  EXPECT_FLOAT_EQ(y[17], 5 * (-1 - 0.125f));
}

}  // namespace
