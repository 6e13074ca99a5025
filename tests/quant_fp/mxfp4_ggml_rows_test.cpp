// MXFP4 through the ggml row codec (what GGUF export and the GGUF loader
// call): the type's block layout, the same bytes as the block codec, and a
// row quantized by hand.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "quant/formats/fp/mxfp4.h"
#include "quant/formats/ggml/ggml_quants.h"

namespace llmq {
namespace {

TEST(Mxfp4GgmlRows, TypeLayoutAndCodecMatchTheBlockCodec) {
  EXPECT_TRUE(ggml::can_quantize(ggml::GgmlType::MXFP4));
  EXPECT_EQ(int(ggml::GgmlType::MXFP4), 39);
  EXPECT_EQ(ggml::block_size(ggml::GgmlType::MXFP4), 32);
  EXPECT_EQ(ggml::row_size(ggml::GgmlType::MXFP4, 64), 34u);  // two 17-byte blocks
  std::vector<float> w(4 * 64);
  for (size_t i = 0; i < w.size(); ++i) w[i] = float((i * 37) % 23) / 7.0f - 1.5f + (i % 64 == 5 ? 9.0f : 0.0f);
  std::vector<float> imp(64, 1.0f);
  imp[5] = 50.0f;
  std::vector<uint8_t> rows(4 * 34), blocks(4 * 34);
  EXPECT_EQ(ggml::quantize_rows(ggml::GgmlType::MXFP4, w.data(), rows.data(), 4, 64, imp.data()), rows.size());
  fp::quantize_mxfp4_ggml(w.data(), 4, 64, blocks.data(), imp.data(), fp::ScaleRule::search);
  EXPECT_EQ(rows, blocks);
  std::vector<float> a(w.size()), b(w.size());
  ggml::dequantize_row(ggml::GgmlType::MXFP4, rows.data(), a.data(), int64_t(w.size()));
  fp::dequantize_mxfp4_ggml(blocks.data(), int64_t(w.size()), b.data());
  EXPECT_EQ(a, b);
}

TEST(Mxfp4GgmlRows, OneBlockByHand) {
  // amax 3 -> e = floor(log2 3) - 2 = -1 (scale 0.5): x / 0.5 = 6, -1, 0.5 ... E2M1 codes 7, 0xA, 1;
  // the searched scale keeps 0.5, as doubling it would round 0.25 and 0.5 worse.
  std::vector<float> x(32, 0.0f);
  x[0] = 3.0f, x[1] = -0.5f, x[16] = 0.25f, x[17] = 1.0f;
  uint8_t blk[17];
  ggml::quantize_rows(ggml::GgmlType::MXFP4, x.data(), blk, 1, 32, nullptr);
  EXPECT_EQ(blk[0], 126);  // 2^-1
  EXPECT_EQ(blk[1], 0x17);  // value 0 (code 7) low, value 16 (0.5 -> code 1) high
  EXPECT_EQ(blk[2], 0x4A);  // value 1 (-1 -> code 0xA) low, value 17 (2 -> code 4) high
  std::vector<float> back(32);
  ggml::dequantize_row(ggml::GgmlType::MXFP4, blk, back.data(), 32);
  EXPECT_EQ(back, x);
}

}  // namespace
}  // namespace llmq
