// FP8 weight quantization on a small matrix worked out by hand. The row
// maxima (3.5, 7) make amax/448 exact powers of two, so every x/scale is exact.
#include <gtest/gtest.h>

#include <vector>

#include "quant/formats/fp/fp8_weights.h"

namespace llmq::fp {
namespace {

const std::vector<float> kW = {0.5f, -0.25f, 0.125f, 3.5f,  //
                               7.0f, 2.625f, -3.5f, 0.0f};

TEST(Fp8Weights, PerChannelByHand) {
  const auto q = quantize_fp8(kW.data(), 2, 4, Fp8Granularity::per_channel, nullptr, ScaleRule::max_abs);
  ASSERT_EQ(q.scales.size(), 2u);
  EXPECT_EQ(q.scales[0], 1.0f / 128);  // 3.5 / 448
  EXPECT_EQ(q.scales[1], 1.0f / 64);   // 7 / 448
  // row 0 / s = 64 -32 16 448; row 1 / s = 448 168 -224 0, where 168 lies
  // halfway between 160 (mantissa 2) and 176 (mantissa 3): ties to even, 160.
  const std::vector<uint8_t> expected = {0x68, 0xE0, 0x58, 0x7E, 0x7E, 0x72, 0xF6, 0x00};
  EXPECT_EQ(q.codes, expected);
  std::vector<float> back(8);
  dequantize_fp8(q, back.data());
  const std::vector<float> expected_back = {0.5f, -0.25f, 0.125f, 3.5f, 7.0f, 2.5f, -3.5f, 0.0f};
  EXPECT_EQ(back, expected_back);
}

TEST(Fp8Weights, PerTensorByHand) {
  const auto q = quantize_fp8(kW.data(), 2, 4, Fp8Granularity::per_tensor, nullptr, ScaleRule::max_abs);
  ASSERT_EQ(q.scales.size(), 1u);
  EXPECT_EQ(q.scales[0], 1.0f / 64);
  // row 0 / s = 32 -16 8 224
  const std::vector<uint8_t> expected = {0x60, 0xD8, 0x50, 0x76, 0x7E, 0x72, 0xF6, 0x00};
  EXPECT_EQ(q.codes, expected);
}

TEST(Fp8Weights, ZeroRowsGetTheEpsilonScale) {
  std::vector<float> w(8, 0.0f);
  w[5] = 1.0f;
  const auto q = quantize_fp8(w.data(), 2, 4, Fp8Granularity::per_channel);
  EXPECT_GT(q.scales[0], 0.0f);
  std::vector<float> back(8);
  dequantize_fp8(q, back.data());
  EXPECT_EQ(back, w);
}

}  // namespace
}  // namespace llmq::fp
