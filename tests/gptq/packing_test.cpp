// Bit layouts of the checkpoint formats, checked against words worked out by hand.
#include <gtest/gtest.h>

#include "quant/formats/intq/bit_packing.h"

namespace llmq {
namespace {

TEST(IntqPacking, GptqOrderEightNibblesInOneWord) {
  // GPTQ qweight: input rows 0..7 of one output column, value j at bits 4j.
  const std::vector<uint32_t> codes = {1, 2, 3, 4, 5, 6, 7, 8};  // [8 rows, 1 col]
  const std::vector<uint32_t> w = pack_along_rows(codes, 8, 1, 4);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], 0x87654321u);
  EXPECT_EQ(unpack_along_rows(w.data(), 8, 1, 4), codes);
}

TEST(IntqPacking, GptqOrderPacksEachColumnSeparately) {
  // [8 in, 2 out]: column 0 = 0..7, column 1 = 15..8.
  std::vector<uint32_t> codes(16);
  for (int r = 0; r < 8; ++r) {
    codes[size_t(r * 2)] = uint32_t(r);
    codes[size_t(r * 2 + 1)] = uint32_t(15 - r);
  }
  const std::vector<uint32_t> w = pack_along_rows(codes, 8, 2, 4);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0], 0x76543210u);
  EXPECT_EQ(w[1], 0x89abcdefu);
}

TEST(IntqPacking, AwqInterleavedOrder) {
  // AutoAWQ: nibble k holds column {0,2,4,6,1,3,5,7}[k] of 8 consecutive output columns.
  const std::vector<uint32_t> codes = {1, 2, 3, 4, 5, 6, 7, 8};  // [1 row, 8 cols]
  const std::vector<uint32_t> w = awq_pack(codes, 1, 8);
  ASSERT_EQ(w.size(), 1u);
  // nibbles low->high: c0=1, c2=3, c4=5, c6=7, c1=2, c3=4, c5=6, c7=8
  EXPECT_EQ(w[0], 0x86427531u);
  EXPECT_EQ(awq_unpack(w.data(), 1, 8), codes);
}

TEST(IntqPacking, TwoAndEightBitWords) {
  std::vector<uint32_t> two(16);
  for (int i = 0; i < 16; ++i) two[size_t(i)] = uint32_t(i % 4);
  const auto w2 = pack_along_cols(two, 1, 16, 2);
  ASSERT_EQ(w2.size(), 1u);
  EXPECT_EQ(w2[0], 0xE4E4E4E4u);  // 0b11100100 repeated: values 0,1,2,3 from the low bits
  const std::vector<uint32_t> eight = {0x11, 0x22, 0x33, 0xF4};
  const auto w8 = pack_along_cols(eight, 1, 4, 8);
  EXPECT_EQ(w8[0], 0xF4332211u);
}

TEST(IntqPacking, ThreeBitValuesStraddleWords) {
  // 32 3-bit values fill exactly 3 words; value 10 is split 2 bits / 1 bit, value 21 1 bit / 2 bits
  // (GPTQ's 3-bit qweight, MLX 3-bit, compressed-tensors dense packing).
  std::vector<uint32_t> codes(32);
  for (int i = 0; i < 32; ++i) codes[size_t(i)] = uint32_t(i % 8);
  auto w = pack_along_cols(codes, 1, 32, 3);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0], 0x88fac688u);
  EXPECT_EQ(w[1], 0xc688fac6u);
  EXPECT_EQ(w[2], 0xfac688fau);
  EXPECT_EQ(unpack_along_cols(w.data(), 1, 32, 3), codes);

  for (int i = 0; i < 32; ++i) codes[size_t(i)] = uint32_t((7 * i + 3) % 8);
  w = pack_along_cols(codes, 1, 32, 3);
  EXPECT_EQ(w[0], 0x53977053u);
  EXPECT_EQ(w[1], 0x70539770u);
  EXPECT_EQ(w[2], 0x97705397u);
  // Along rows gives the same words for a single column.
  EXPECT_EQ(pack_along_rows(codes, 32, 1, 3), w);
}

TEST(IntqPacking, RandomRoundTripsEveryWidth) {
  uint32_t s = 12345;
  for (int bits : {2, 3, 4, 8}) {
    const int64_t rows = 64, cols = 96;
    std::vector<uint32_t> codes(size_t(rows * cols));
    for (auto& c : codes) c = (s = s * 1664525u + 1013904223u) >> (32 - bits);
    const auto a = pack_along_cols(codes, rows, cols, bits);
    EXPECT_EQ(int64_t(a.size()), rows * cols * bits / 32);
    EXPECT_EQ(unpack_along_cols(a.data(), rows, cols, bits), codes) << bits;
    const auto b = pack_along_rows(codes, rows, cols, bits);
    EXPECT_EQ(unpack_along_rows(b.data(), rows, cols, bits), codes) << bits;
  }
}

}  // namespace
}  // namespace llmq
