// An NVFP4 tensor worked out by hand. Tensor amax 6 gives the global scale
// G = 448 * 6 / 6 = 448; each group's scale is e4m3(amax_g / 6 * G), and the
// values are E2M1 codes of x / (scale / G).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "quant/formats/fp/minifloat.h"
#include "quant/formats/fp/nvfp4.h"
#include "util/error.h"

namespace llmq::fp {
namespace {

const std::vector<float> kRow = {
    // group 0, amax 6: scale e4m3(448) = 0x7E, effective 1
    0, 0.25f, 0.5f, 0.75f, 1, 1.25f, 1.5f, 1.75f, 2, 2.5f, 3, 3.5f, 4, 5, 6, -3,
    // group 1, amax 3: scale e4m3(224) = 0x76, effective 0.5
    3, -3, 1.5f, -1.5f, 0.75f, 0.5f, 0.25f, 0, 2, -2, 1, -1, 2.5f, 1.25f, -0.6f, 0.1f,
    // group 2, amax 1: 74.67 rounds to 72 = 0x69, effective 72/448; x/s = 6.222 x
    1, -1, 0.5f, -0.5f, 0.25f, 0.1f, 0.08f, 0.04f, 0.75f, -0.75f, 0.3f, 0.9f, 0.6f, -0.2f, 0.15f, 0,
    // group 3, all zero: scale 0.125 = 0x20 as compressed-tensors writes
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

// group 0 codes: 0 0 1 2 2 2 3 4 4 4 5 6 6 6 7 D
// group 1 codes (x/0.5 = 6 -6 3 -3 1.5 1 .5 0 4 -4 2 -2 5 2.5 -1.2 .2): 7 F 5 D 3 2 1 0 6 E 4 C 6 4 A 0
// group 2 codes (6.22 -6.22 3.11 -3.11 1.56 .62 .50 .25 4.67 -4.67 1.87 5.6 3.73 -1.24 .93 0):
//                7 F 5 D 3 1 1 0 6 E 4 7 6 A 2 0
const uint8_t kPacked[32] = {0x00, 0x21, 0x22, 0x43, 0x44, 0x65, 0x66, 0xD7,  //
                             0xF7, 0xD5, 0x23, 0x01, 0xE6, 0xC4, 0x46, 0x0A,  //
                             0xF7, 0xD5, 0x13, 0x01, 0xE6, 0x74, 0xA6, 0x02,  //
                             0, 0, 0, 0, 0, 0, 0, 0};
const uint8_t kScales[4] = {0x7E, 0x76, 0x69, 0x20};

TEST(Nvfp4, HandWorkedTensor) {
  const Nvfp4Weights q = quantize_nvfp4(kRow.data(), 1, 64, nullptr, ScaleRule::max_abs);
  EXPECT_EQ(q.global_scale, 448.0f);
  ASSERT_EQ(q.scales.size(), 4u);
  for (int g = 0; g < 4; ++g) EXPECT_EQ(q.scales[g], kScales[g]) << "group " << g;
  ASSERT_EQ(q.packed.size(), 32u);
  for (int k = 0; k < 32; ++k) EXPECT_EQ(q.packed[k], kPacked[k]) << "byte " << k;

  EXPECT_EQ(decode_e4m3(0x69), 72.0f);
  std::vector<float> back(64);
  dequantize_nvfp4(q, back.data());
  const float s2 = 72.0f / 448.0f;
  const float group2[16] = {6, -6, 3, -3, 1.5f, 0.5f, 0.5f, 0, 4, -4, 2, 6, 4, -1, 1, 0};
  for (int j = 0; j < 16; ++j) EXPECT_FLOAT_EQ(back[32 + j], group2[j] * s2) << j;
  EXPECT_EQ(back[16], 3.0f);
  EXPECT_EQ(back[28], 2.0f);  // 2.5 -> 5 at scale 0.5 -> ties to 4 -> 2.0
  EXPECT_EQ(back[30], -0.5f);
  for (int j = 48; j < 64; ++j) EXPECT_EQ(back[j], 0.0f);
}

TEST(Nvfp4, GlobalScaleFollowsCompressedTensors) {
  EXPECT_FLOAT_EQ(nvfp4_global_scale(0.5f), 448.0f * 6.0f / 0.5f);
  EXPECT_EQ(nvfp4_global_scale(0.0f), 1.0f);
  // Scaling a tensor scales G inversely and leaves codes and scale codes alone.
  std::vector<float> scaled(kRow);
  for (float& v : scaled) v *= 0.01f;
  const auto a = quantize_nvfp4(kRow.data(), 1, 64, nullptr, ScaleRule::max_abs);
  const auto b = quantize_nvfp4(scaled.data(), 1, 64, nullptr, ScaleRule::max_abs);
  EXPECT_FLOAT_EQ(b.global_scale, a.global_scale * 100.0f);
  EXPECT_EQ(a.scales, b.scales);
  EXPECT_EQ(a.packed, b.packed);
}

TEST(Nvfp4, TinyGroupGetsTheSmallestScaleNotZero) {
  std::vector<float> w(32, 0.0f);
  w[0] = 1000.0f;  // tensor amax: G = 2.688
  w[16] = 1e-3f;   // group 1: 1e-3 / 6 * G = 4.5e-4 rounds to E4M3 zero (below 2^-10)
  const auto q = quantize_nvfp4(w.data(), 1, 32, nullptr, ScaleRule::max_abs);
  EXPECT_EQ(q.scales[1], 0x01);
  std::vector<float> back(32);
  dequantize_nvfp4(q, back.data());
  // scale 2^-9 / G = 7.27e-4: 1e-3 is 1.375 of it, stored as 1.5
  EXPECT_FLOAT_EQ(back[16], 1.5f * std::ldexp(1.0f, -9) / q.global_scale);
}

TEST(Nvfp4, BadShapes) {
  std::vector<float> w(40, 1.0f);
  EXPECT_THROW(quantize_nvfp4(w.data(), 1, 40), Error);
  EXPECT_THROW(quantize_nvfp4(w.data(), 1, 0), Error);
}

}  // namespace
}  // namespace llmq::fp
