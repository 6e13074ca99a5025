// Dequantisation of hand-built blocks: the bytes are written out here from
// the ggml format description (field offsets, bit positions) and the
// expected floats are worked out by hand, independently of the library's
// packing helpers.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "quant/formats/ggml/ggml_quants.h"

namespace {

using namespace llmq::ggml;

// fp16 bit patterns of exactly representable values.
constexpr uint16_t kHalf1 = 0x3C00;     // 1.0
constexpr uint16_t kHalf0_5 = 0x3800;   // 0.5
constexpr uint16_t kHalf0_25 = 0x3400;  // 0.25

void put_u16(std::vector<uint8_t>& b, size_t offset, uint16_t v) {
  b[offset] = uint8_t(v & 0xFF);  // little-endian
  b[offset + 1] = uint8_t(v >> 8);
}

std::vector<float> decode(void (*dequantize)(const void*, float*, int64_t), const std::vector<uint8_t>& block) {
  std::vector<float> y(256);
  dequantize(block.data(), y.data(), 256);
  return y;
}

// Q2_K: scales[16] @0, qs[64] @16, d @80, dmin @82. x = d*(s&15)*q - dmin*(s>>4).
// A value v sits in qs[32*(v/128) + v%32] at bit 2*((v%128)/32).
TEST(KQuantLayout, Q2K) {
  std::vector<uint8_t> b(84, 0);
  b[0] = 0x21;   // sub-block 0: scale 1, min 2
  b[3] = 0xF7;   // sub-block 3: scale 7, min 15
  b[12] = 0x0F;  // sub-block 12: scale 15, min 0
  b[16 + 0] = 0x03;   // v0: level 3
  b[16 + 16] = 0x08;  // v48 (quarter 1, l=16): level 2 at bits 2..3
  b[16 + 40] = 0x30;  // v200 (half 1, quarter 2, l=8): level 3 at bits 4..5
  put_u16(b, 80, kHalf0_5);
  put_u16(b, 82, kHalf0_25);
  const auto y = decode(dequantize_row_q2_K, b);
  EXPECT_FLOAT_EQ(y[0], 0.5f * 1 * 3 - 0.25f * 2);    // 1.0
  EXPECT_FLOAT_EQ(y[1], -0.5f);                        // level 0: -dmin*2
  EXPECT_FLOAT_EQ(y[48], 0.5f * 7 * 2 - 0.25f * 15);  // 3.25
  EXPECT_FLOAT_EQ(y[63], -3.75f);
  EXPECT_FLOAT_EQ(y[200], 22.5f);  // 0.5*15*3
  EXPECT_FLOAT_EQ(y[255], 0.f);    // scale and min 0
}

// Q3_K: hmask[32] @0, qs[64] @32, scales[12] @96, d @108. x = d*sc*(low + 4*high - 4).
TEST(KQuantLayout, Q3K) {
  std::vector<uint8_t> b(110, 0);
  // Scale codes c = sc+32: sc0=1 (c=33), sc1=-32 (c=0), sc8=31 (c=63),
  // sc13=-5 (c=27), all others 0 (c=32 = low 0, high 2).
  // Low nibbles: byte k = c_k & 15 | (c_{k+8} & 15) << 4.
  const uint8_t low[8] = {0xF1, 0x00, 0x00, 0x00, 0x00, 0xB0, 0x00, 0x00};
  // High 2 bits of c_j at byte 8 + j%4, offset 2*(j/4):
  // byte 8: c0=2, c4=2, c8=3, c12=2 -> 2 | 2<<2 | 3<<4 | 2<<6 = 0xBA
  // byte 9: c1=0, c5=2, c9=2, c13=1 -> 0 | 8 | 32 | 64 = 0x68
  // bytes 10, 11: all 2 -> 0xAA
  const uint8_t high[4] = {0xBA, 0x68, 0xAA, 0xAA};
  std::memcpy(&b[96], low, 8);
  std::memcpy(&b[104], high, 4);
  put_u16(b, 108, kHalf0_25);
  b[32 + 0] = 0x03;   // v0 low bits 3
  b[0] |= 0x01;       // v0 high bit: hmask[0] bit 0 -> level 3
  b[32 + 34] = 0x02;  // v130 (half 1, l=2): low 2
  b[2] |= 0x10;       // v130 high bit: hmask[130%32=2] bit 130/32=4 -> level 2
  b[32 + 55] = 0x10;  // v215 (half 1, quarter 2, l=23): low 1 at bits 4..5, no high bit -> level -3
  const auto y = decode(dequantize_row_q3_K, b);
  EXPECT_FLOAT_EQ(y[0], 0.25f * 1 * 3);      // 0.75
  EXPECT_FLOAT_EQ(y[1], 0.25f * 1 * -4);     // all-zero bits: level -4
  EXPECT_FLOAT_EQ(y[16], 0.25f * -32 * -4);  // 32
  EXPECT_FLOAT_EQ(y[130], 0.25f * 31 * 2);   // 15.5
  EXPECT_FLOAT_EQ(y[215], 0.25f * -5 * -3);  // 3.75
  EXPECT_FLOAT_EQ(y[40], 0.f);               // scale 0
}

// The 12 scale bytes shared by Q4_K and Q5_K for
// sc = {1, 2, 3, 4, 17, 33, 63, 5} and m = {0, 1, 2, 3, 20, 40, 7, 63}.
// Bytes 0..3: sc[j] | (sc[j+4] >> 4) << 6; bytes 4..7: m[j] | (m[j+4] >> 4) << 6;
// bytes 8..11: (sc[j+4] & 15) | (m[j+4] & 15) << 4.
constexpr uint8_t kScaleMinBytes[12] = {
    0x41, 0x82, 0xC3, 0x04,  // 1|1<<6, 2|2<<6, 3|3<<6, 4|0
    0x40, 0x81, 0x02, 0xC3,  // 0|1<<6, 1|2<<6, 2|0,    3|3<<6
    0x41, 0x81, 0x7F, 0xF5,  // 1|4<<4, 1|8<<4, 15|7<<4, 5|15<<4
};

// Q4_K: d @0, dmin @2, scales[12] @4, qs[128] @16. Byte 32c+l holds value
// 64c+l in its low nibble and 64c+32+l in its high nibble.
TEST(KQuantLayout, Q4K) {
  std::vector<uint8_t> b(144, 0);
  put_u16(b, 0, kHalf1);
  put_u16(b, 2, kHalf0_5);
  std::memcpy(&b[4], kScaleMinBytes, 12);
  b[16 + 0] = 0x97;        // v0 = 7 (sub-block 0), v32 = 9 (sub-block 1)
  b[16 + 64 + 3] = 0x2F;   // v131 = 15 (sub-block 4), v163 = 2 (sub-block 5)
  b[16 + 96 + 31] = 0xA0;  // v223 = 0 (sub-block 6), v255 = 10 (sub-block 7)
  const auto y = decode(dequantize_row_q4_K, b);
  EXPECT_FLOAT_EQ(y[0], 7.f);            // 1*1*7 - 0.5*0
  EXPECT_FLOAT_EQ(y[32], 17.5f);         // 1*2*9 - 0.5*1
  EXPECT_FLOAT_EQ(y[100], -1.5f);        // sub-block 3, level 0: -0.5*3
  EXPECT_FLOAT_EQ(y[131], 245.f);        // 17*15 - 0.5*20
  EXPECT_FLOAT_EQ(y[163], 46.f);         // 33*2 - 0.5*40
  EXPECT_FLOAT_EQ(y[223], -3.5f);        // 0 - 0.5*7
  EXPECT_FLOAT_EQ(y[255], 18.5f);        // 5*10 - 0.5*63
  EXPECT_FLOAT_EQ(y[200], -3.5f);        // sub-block 6, level 0
}

// Q5_K: d @0, dmin @2, scales[12] @4, qh[32] @16, qs[128] @48. The fifth bit
// of value 64c+l is qh[l] bit 2c, of value 64c+32+l qh[l] bit 2c+1.
TEST(KQuantLayout, Q5K) {
  std::vector<uint8_t> b(176, 0);
  put_u16(b, 0, kHalf1);
  put_u16(b, 2, kHalf0_5);
  std::memcpy(&b[4], kScaleMinBytes, 12);
  b[16 + 0] = 0x01;        // v0 high bit (c=0, low half)
  b[16 + 3] = 0x30;        // v131 and v163 high bits (c=2: bits 4 and 5)
  b[48 + 0] = 0x97;        // v0 low 7, v32 low 9
  b[48 + 64 + 3] = 0x2F;   // v131 low 15, v163 low 2
  b[48 + 96 + 31] = 0xA0;  // v255 low 10
  const auto y = decode(dequantize_row_q5_K, b);
  EXPECT_FLOAT_EQ(y[0], 23.f);     // 1*1*(7+16) - 0
  EXPECT_FLOAT_EQ(y[32], 17.5f);   // 1*2*9 - 0.5
  EXPECT_FLOAT_EQ(y[131], 517.f);  // 17*31 - 10
  EXPECT_FLOAT_EQ(y[163], 574.f);  // 33*18 - 20
  EXPECT_FLOAT_EQ(y[255], 18.5f);  // 5*10 - 31.5
  EXPECT_FLOAT_EQ(y[100], -1.5f);
}

// Q6_K: ql[128] @0, qh[64] @128, scales[16] (int8) @192, d @208.
// x = d*sc*(q-32); in 128-value half h, with l = v%32 and quarter k = (v%128)/32:
// low 4 bits in ql[64h + l + 32*(k&1)] (high nibble when k >= 2), top 2 bits
// in qh[32h + l] at bit 2k.
TEST(KQuantLayout, Q6K) {
  std::vector<uint8_t> b(210, 0);
  for (int j = 0; j < 16; ++j) b[192 + j] = 1;
  b[192 + 0] = 2;
  b[192 + 2] = uint8_t(int8_t(-3));
  b[192 + 5] = 127;
  b[192 + 15] = uint8_t(int8_t(-128));
  put_u16(b, 208, kHalf0_5);
  b[0] = 0x5A;          // v0 low 10, v64 low 5
  b[128 + 0] = 0x9E;    // v0 top 2, v32 top 3, v64 top 1, v96 top 2
  b[64 + 32 + 21] = 0xF0;  // v245 (half 1, k=3, l=21): low 15 in high nibble
  b[128 + 32 + 21] = 0xC0; // v245 top bits 3
  const auto y = decode(dequantize_row_q6_K, b);
  EXPECT_FLOAT_EQ(y[0], 0.5f * 2 * 10);      // q = 10 | 2<<4 = 42 -> 10
  EXPECT_FLOAT_EQ(y[32], 0.5f * -3 * 16);    // q = 0 | 3<<4 = 48 -> 16
  EXPECT_FLOAT_EQ(y[64], 0.5f * 1 * -11);    // q = 5 | 1<<4 = 21 -> -11
  EXPECT_FLOAT_EQ(y[96], 0.f);               // q = 0 | 2<<4 = 32 -> 0
  EXPECT_FLOAT_EQ(y[80], 0.5f * 127 * -32);  // all-zero bits, scale 127
  EXPECT_FLOAT_EQ(y[245], 0.5f * -128 * 31); // q = 63 -> 31
  EXPECT_FLOAT_EQ(y[1], 0.5f * 2 * -32);
}

// Q8_K: float d @0, int8 qs[256] @4, int16 bsums[16] @260.
TEST(KQuantLayout, Q8K) {
  std::vector<uint8_t> b(292, 0);
  const float d = 0.125f;
  std::memcpy(&b[0], &d, 4);
  b[4 + 0] = 5;
  b[4 + 255] = uint8_t(int8_t(-127));
  const auto y = decode(dequantize_row_q8_K, b);
  EXPECT_FLOAT_EQ(y[0], 0.625f);
  EXPECT_FLOAT_EQ(y[255], -15.875f);
  EXPECT_FLOAT_EQ(y[100], 0.f);
}

// Several blocks in a row decode independently, in order.
TEST(KQuantLayout, RowOfBlocks) {
  std::vector<uint8_t> b(2 * 292, 0);
  const float d0 = 1.f, d1 = -2.f;
  std::memcpy(&b[0], &d0, 4);
  std::memcpy(&b[292], &d1, 4);
  b[4 + 7] = 3;
  b[292 + 4 + 7] = 3;
  std::vector<float> y(512);
  dequantize_row_q8_K(b.data(), y.data(), 512);
  EXPECT_FLOAT_EQ(y[7], 3.f);
  EXPECT_FLOAT_EQ(y[256 + 7], -6.f);
}

}  // namespace
