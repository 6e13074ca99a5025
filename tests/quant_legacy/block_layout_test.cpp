// Dequantization of hand-built blocks: every byte is chosen here and every
// expected float is worked out by hand from ggml's block layouts, so these
// tests pin down the exact bit layout, not just self-consistency.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "quant/formats/ggml/ggml_quants.h"

namespace {

using llmq::ggml::GgmlType;

std::vector<float> dequantize(GgmlType type, const std::vector<uint8_t>& block) {
  EXPECT_EQ(block.size(), llmq::ggml::row_size(type, 32));
  std::vector<float> y(32);
  llmq::ggml::dequantize_row(type, block.data(), y.data(), 32);
  return y;
}

TEST(LegacyBlockLayout, Q4_0) {
  // d = 0.5 (fp16 0x3800, stored little-endian); value = d * (nibble - 8);
  // byte j: low nibble = value j, high nibble = value j+16.
  std::vector<uint8_t> block = {0x00, 0x38};
  std::vector<uint8_t> qs(16, 0x88);  // 8 -> 0.0
  qs[0] = 0x0F;   // v0 = (15-8)*0.5 = 3.5,   v16 = (0-8)*0.5 = -4.0
  qs[1] = 0x80;   // v1 = (0-8)*0.5 = -4.0,   v17 = (8-8)*0.5 = 0
  qs[2] = 0x39;   // v2 = (9-8)*0.5 = 0.5,    v18 = (3-8)*0.5 = -2.5
  qs[15] = 0xC7;  // v15 = (7-8)*0.5 = -0.5,  v31 = (12-8)*0.5 = 2.0
  block.insert(block.end(), qs.begin(), qs.end());
  const std::vector<float> expected = {3.5f, -4.0f, 0.5f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -0.5f,
                                       -4.0f, 0, -2.5f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2.0f};
  EXPECT_EQ(dequantize(GgmlType::Q4_0, block), expected);
}

TEST(LegacyBlockLayout, Q4_1) {
  // d = 0.25 (0x3400), m = -1.0 (0xBC00); value = d * nibble + m.
  std::vector<uint8_t> block = {0x00, 0x34, 0x00, 0xBC};
  std::vector<uint8_t> qs(16, 0x00);  // 0 -> -1.0
  qs[0] = 0xF0;  // v0 = -1.0,            v16 = 15*0.25-1 = 2.75
  qs[5] = 0x4A;  // v5 = 10*0.25-1 = 1.5, v21 = 4*0.25-1 = 0
  block.insert(block.end(), qs.begin(), qs.end());
  std::vector<float> expected(32, -1.0f);
  expected[16] = 2.75f;
  expected[5] = 1.5f;
  expected[21] = 0.0f;
  EXPECT_EQ(dequantize(GgmlType::Q4_1, block), expected);
}

TEST(LegacyBlockLayout, Q5_0) {
  // d = 1.0 (0x3C00); qh = little-endian u32 of fifth bits: bit 0 and bit 17;
  // value = d * ((nibble | fifth bit << 4) - 16).
  std::vector<uint8_t> block = {0x00, 0x3C, 0x01, 0x00, 0x02, 0x00};
  std::vector<uint8_t> qs(16, 0x00);  // 0 without fifth bit -> -16
  qs[0] = 0x21;  // v0 = (1|16)-16 = 1,   v16 = 2-16 = -14
  qs[1] = 0xF3;  // v1 = 3-16 = -13,      v17 = (15|16)-16 = 15
  block.insert(block.end(), qs.begin(), qs.end());
  std::vector<float> expected(32, -16.0f);
  expected[0] = 1;
  expected[16] = -14;
  expected[1] = -13;
  expected[17] = 15;
  EXPECT_EQ(dequantize(GgmlType::Q5_0, block), expected);
}

TEST(LegacyBlockLayout, Q5_1) {
  // d = 0.5 (0x3800), m = 2.0 (0x4000); fifth bits 2 and 31: qh = 04 00 00 80.
  std::vector<uint8_t> block = {0x00, 0x38, 0x00, 0x40, 0x04, 0x00, 0x00, 0x80};
  std::vector<uint8_t> qs(16, 0x00);  // 0 -> 2.0
  qs[15] = 0xF7;  // v15 = 7*0.5+2 = 5.5, v31 = (15|16)*0.5+2 = 17.5
  block.insert(block.end(), qs.begin(), qs.end());
  std::vector<float> expected(32, 2.0f);
  expected[2] = 16 * 0.5f + 2;  // nibble 0 with fifth bit: 10.0
  expected[15] = 5.5f;
  expected[31] = 17.5f;
  EXPECT_EQ(dequantize(GgmlType::Q5_1, block), expected);
}

TEST(LegacyBlockLayout, Q8_0) {
  // d = 0.25 (0x3400); 32 signed bytes; value = d * q.
  std::vector<uint8_t> block = {0x00, 0x34};
  std::vector<uint8_t> qs(32, 0x00);
  qs[0] = 127;   // 31.75
  qs[1] = 0x80;  // -128 -> -32
  qs[2] = 0xFF;  // -1 -> -0.25
  qs[31] = 5;    // 1.25
  block.insert(block.end(), qs.begin(), qs.end());
  std::vector<float> expected(32, 0.0f);
  expected[0] = 31.75f;
  expected[1] = -32.0f;
  expected[2] = -0.25f;
  expected[31] = 1.25f;
  EXPECT_EQ(dequantize(GgmlType::Q8_0, block), expected);
}

TEST(LegacyBlockLayout, Q4_0WritesExactGridBlockAsExpectedBytes) {
  // Values already on the grid d = 0.5 with the extreme at -4.0 (code 0) must
  // come out with exactly those codes and d = 0x3800.
  std::vector<float> x(32, 0.0f);
  x[0] = -4.0f;  // code 0
  x[3] = 3.5f;   // code 15
  x[16] = 1.0f;  // code 10
  x[20] = -0.5f; // code 7
  std::vector<uint8_t> expected = {0x00, 0x38};
  std::vector<uint8_t> qs(16, 0x88);
  qs[0] = 0xA0;  // v0 = -4.0 (code 0), v16 = 1.0 (code 10)
  qs[3] = 0x8F;  // v3 = 3.5 (code 15), v19 = 0 (code 8)
  qs[4] = 0x78;  // v4 = 0 (code 8), v20 = -0.5 (code 7)
  expected.insert(expected.end(), qs.begin(), qs.end());
  std::vector<uint8_t> got(18);
  llmq::ggml::quantize_rows(GgmlType::Q4_0, x.data(), got.data(), 1, 32);
  EXPECT_EQ(got, expected);
}

TEST(LegacyBlockLayout, Q8_0MatchesGgmlRuleByteForByte) {
  // amax 127 -> d = 1.0 (0x3C00); codes are the values rounded half away from zero.
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i) x[i] = float(i * 4 - 64) + 0.5f;  // -63.5 .. 60.5
  x[7] = 127.0f;
  std::vector<uint8_t> expected = {0x00, 0x3C};
  for (int i = 0; i < 32; ++i) {
    const int code = i == 7 ? 127 : (i * 4 - 64) + (i * 4 - 64 >= 0 ? 1 : 0);  // -63.5 -> -64, 0.5 -> 1
    expected.push_back(uint8_t(int8_t(code)));
  }
  std::vector<uint8_t> got(34);
  llmq::ggml::quantize_rows(GgmlType::Q8_0, x.data(), got.data(), 1, 32);
  EXPECT_EQ(got, expected);
}

}  // namespace
