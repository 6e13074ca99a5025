// MXFP4 blocks worked out by hand: E2M1 codes of x / 2^(e-127), with
// e = floor(log2(amax)) - 2 + 127 under the max-abs (OCP) rule.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "quant/formats/fp/mxfp4.h"
#include "util/error.h"

namespace llmq::fp {
namespace {

// amax 6 -> e = 127 (scale 1): the codes are plain E2M1 roundings, ties to even.
const std::vector<float> kBlock = {
    0, 0.25f, 0.5f, 0.75f, 1, 1.25f, 1.5f, 1.75f, 2, 2.5f, 3, 3.5f, 4, 5, 6, -3,
    -0.5f, -1, -1.5f, -2, -4, -6, -0.25f, -0.75f, 0.1f, 5.5f, -5.5f, 2.75f, -2.75f, 0.4f, -0.6f, 1.1f};
// codes: 0 0 1 2 2 2 3 4 4 4 5 6 6 6 7 D | 9 A B C E F 8 A 0 7 F 5 D 1 9 2
// (-0.25 keeps its sign: -0 is code 8)
const uint8_t kConsecutive[16] = {0x00, 0x21, 0x22, 0x43, 0x44, 0x65, 0x66, 0xD7,
                                  0xA9, 0xCB, 0xFE, 0xA8, 0x70, 0x5F, 0x1D, 0x29};
const uint8_t kGgmlQs[16] = {0x90, 0xA0, 0xB1, 0xC2, 0xE2, 0xF2, 0x83, 0xA4,
                             0x04, 0x74, 0xF5, 0x56, 0xD6, 0x16, 0x97, 0x2D};
const float kDequantized[32] = {0, 0,  0.5f, 1,  1,  1,  1.5f, 2,    2, 2, 3, 4,  4, 4,    6,     -3,
                                -0.5f, -1, -1.5f, -2, -4, -6, -0.0f, -1, 0, 6, -6, 3, -3, 0.5f, -0.5f, 1};

// Three rows: the block, the block * 2^-5 and the block * 2^3.
std::vector<float> three_rows() {
  std::vector<float> w;
  for (float scale : {1.0f, 1.0f / 32, 8.0f})
    for (float v : kBlock) w.push_back(v * scale);
  return w;
}

TEST(Mxfp4, HandWorkedBlockInCompressedTensorsLayout) {
  const auto w = three_rows();
  const Mxfp4Weights q = quantize_mxfp4(w.data(), 3, 32, nullptr, ScaleRule::max_abs);
  ASSERT_EQ(q.packed.size(), 3u * 16);
  ASSERT_EQ(q.scales.size(), 3u);
  EXPECT_EQ(q.scales[0], 127);
  EXPECT_EQ(q.scales[1], 122);  // amax 0.1875: floor(log2) = -3, -3 - 2 + 127
  EXPECT_EQ(q.scales[2], 130);  // amax 48: 5 - 2 + 127
  for (int r = 0; r < 3; ++r)
    for (int k = 0; k < 16; ++k) EXPECT_EQ(q.packed[r * 16 + k], kConsecutive[k]) << "row " << r << " byte " << k;

  std::vector<float> back(w.size());
  dequantize_mxfp4(q, back.data());
  const float row_scale[3] = {1.0f, 1.0f / 32, 8.0f};
  for (int r = 0; r < 3; ++r)
    for (int j = 0; j < 32; ++j) EXPECT_EQ(back[r * 32 + j], kDequantized[j] * row_scale[r]) << r << "," << j;
}

TEST(Mxfp4, HandWorkedBlockInGgmlLayout) {
  const auto w = three_rows();
  std::vector<Mxfp4GgmlBlock> blocks(3);
  EXPECT_EQ(quantize_mxfp4_ggml(w.data(), 3, 32, blocks.data(), nullptr, ScaleRule::max_abs), 3u * 17);
  const uint8_t expected_e[3] = {127, 122, 130};
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(blocks[r].e, expected_e[r]);
    for (int j = 0; j < 16; ++j) EXPECT_EQ(blocks[r].qs[j], kGgmlQs[j]) << "row " << r << " qs " << j;
  }
  // Raw bytes as they go into a GGUF file: e first, then qs.
  uint8_t raw[17];
  std::memcpy(raw, &blocks[0], 17);
  EXPECT_EQ(raw[0], 127);
  EXPECT_EQ(raw[1], 0x90);
  EXPECT_EQ(raw[16], 0x2D);

  std::vector<float> back(w.size());
  dequantize_mxfp4_ggml(blocks.data(), 96, back.data());
  for (int j = 0; j < 32; ++j) EXPECT_EQ(back[32 + j], kDequantized[j] / 32) << j;

  // The two layouts convert into each other without loss.
  const Mxfp4Weights q = quantize_mxfp4(w.data(), 3, 32, nullptr, ScaleRule::max_abs);
  const auto converted = mxfp4_to_ggml(q);
  EXPECT_EQ(std::memcmp(converted.data(), blocks.data(), 3 * 17), 0);
  const Mxfp4Weights round = mxfp4_from_ggml(blocks.data(), 3, 32);
  EXPECT_EQ(round.packed, q.packed);
  EXPECT_EQ(round.scales, q.scales);
}

TEST(Mxfp4, SearchPicksTheLargerScaleWhenTheOcpRuleClips) {
  // amax 7.9: the OCP rule gives scale 1 and clips every value to 6 (error
  // 1.9 each); scale 2 stores 7.9 as 4 * 2 = 8 (error 0.1).
  std::vector<float> w(32, 7.9f);
  const auto by_max = quantize_mxfp4(w.data(), 1, 32, nullptr, ScaleRule::max_abs);
  const auto searched = quantize_mxfp4(w.data(), 1, 32, nullptr, ScaleRule::search);
  EXPECT_EQ(by_max.scales[0], 127);
  EXPECT_EQ(by_max.packed[0], 0x77);
  EXPECT_EQ(searched.scales[0], 128);
  EXPECT_EQ(searched.packed[0], 0x66);
}

TEST(Mxfp4, ImportanceChangesTheChoice) {
  // Column 0 holds 7.9, the rest 1.5. Unweighted: scale 1 (error 1.9^2 =
  // 3.61) beats scale 2 (0.01 + 31 * 0.5^2 = 7.76). With column 0 a hundred
  // times as important: 361 against 1 + 7.75, so scale 2 wins.
  std::vector<float> w(32, 1.5f);
  w[0] = 7.9f;
  std::vector<float> importance(32, 1.0f);
  importance[0] = 100.0f;
  EXPECT_EQ(quantize_mxfp4(w.data(), 1, 32, nullptr, ScaleRule::search).scales[0], 127);
  EXPECT_EQ(quantize_mxfp4(w.data(), 1, 32, importance.data(), ScaleRule::search).scales[0], 128);
}

TEST(Mxfp4, ZeroGroupAndBadShapes) {
  std::vector<float> w(64, 0.0f);
  w[40] = 1.0f;
  const auto q = quantize_mxfp4(w.data(), 1, 64);
  EXPECT_EQ(q.scales[0], 0);  // all-zero group: what ggml writes
  EXPECT_EQ(q.scales[1], 125);
  std::vector<float> back(64);
  dequantize_mxfp4(q, back.data());
  EXPECT_EQ(back, w);
  EXPECT_THROW(quantize_mxfp4(w.data(), 2, 31), Error);
  EXPECT_THROW(quantize_mxfp4_ggml(w.data(), 1, 48, nullptr), Error);
}

}  // namespace
}  // namespace llmq::fp
