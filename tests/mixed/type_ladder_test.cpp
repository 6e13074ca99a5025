// The candidate type ladder and its bit-class bounds.
#include <gtest/gtest.h>

#include "mixed/type_ladder.h"
#include "quant/formats/ggml/ggml_quants.h"
#include "util/error.h"

namespace llmq {
namespace {

using ggml::GgmlType;

TEST(TypeLadder, BitClassIsTheIntegerPartOfBitsPerWeight) {
  EXPECT_EQ(bit_class(GgmlType::Q2_K), 2);     // 2.625
  EXPECT_EQ(bit_class(GgmlType::Q3_K), 3);     // 3.4375
  EXPECT_EQ(bit_class(GgmlType::Q4_K), 4);     // 4.5
  EXPECT_EQ(bit_class(GgmlType::IQ4_XS), 4);   // 4.25
  EXPECT_EQ(bit_class(GgmlType::Q6_K), 6);     // 6.5625
  EXPECT_EQ(bit_class(GgmlType::Q8_0), 8);     // 8.5
  EXPECT_EQ(bit_class(GgmlType::IQ2_XXS), 2);  // 2.0625
  EXPECT_EQ(bit_class(GgmlType::IQ1_M), 1);    // 1.75
}

TEST(TypeLadder, DefaultLadderHoldsWritableTypesInIncreasingSize) {
  const auto ladder = default_type_ladder();
  ASSERT_GE(ladder.size(), 6u);  // the k-quants and Q8_0 at least
  for (GgmlType t : ladder) EXPECT_TRUE(ggml::can_quantize(t)) << ggml::type_name(t);
  for (size_t i = 1; i < ladder.size(); ++i) EXPECT_LE(ggml::type_bpw(ladder[i - 1]), ggml::type_bpw(ladder[i]));
  for (GgmlType t : {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_0})
    EXPECT_NE(std::find(ladder.begin(), ladder.end(), t), ladder.end()) << ggml::type_name(t);
}

TEST(TypeLadder, BoundsAndRowLengthNarrowTheCandidates) {
  const std::vector<GgmlType> ladder{GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q8_0};
  EXPECT_EQ(fitting_types(ladder, 256, {3, 4}), (std::vector<GgmlType>{GgmlType::Q3_K, GgmlType::Q4_0, GgmlType::Q4_K}));
  // 96 values: only the 32-value blocks fit.
  EXPECT_EQ(fitting_types(ladder, 96, {}), (std::vector<GgmlType>{GgmlType::Q4_0, GgmlType::Q8_0}));
  EXPECT_TRUE(fitting_types(ladder, 96, {5, 6}).empty());
  const BitRange r = BitRange{2, 8}.intersect({4, 12});
  EXPECT_EQ(r.min_bits, 4);
  EXPECT_EQ(r.max_bits, 8);
}

TEST(TypeLadder, ParsesListsAndRejectsWhatCannotBeWritten) {
  EXPECT_EQ(parse_type_list("q6_k, Q2_K,Q4_K", "--ladder"),
            (std::vector<GgmlType>{GgmlType::Q2_K, GgmlType::Q4_K, GgmlType::Q6_K}));
  EXPECT_THROW(parse_type_list("Q4_K,Q9_X", "--ladder"), Error);
  EXPECT_THROW(parse_type_list("F16", "--ladder"), Error);  // not a quantized type
  EXPECT_THROW(parse_type_list(" , ", "--ladder"), Error);
  try {
    parse_type_list("bogus", "--ladder");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--ladder: 'bogus'"), std::string::npos);
  }
}

}  // namespace
}  // namespace llmq
