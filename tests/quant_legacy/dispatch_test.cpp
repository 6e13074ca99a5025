// quantize_rows / dequantize_row: which types they accept, that the parallel
// whole-tensor path equals the per-row functions, and the errors for rows that
// are not whole blocks.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "quant/formats/ggml/ggml_quants.h"
#include "util/error.h"

namespace {

using llmq::ggml::GgmlType;

TEST(LegacyDispatch, SupportedTypes) {
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,
                     GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K,
                     GgmlType::Q6_K, GgmlType::Q8_K, GgmlType::TQ1_0, GgmlType::TQ2_0, GgmlType::IQ1_S,
                     GgmlType::IQ1_M, GgmlType::IQ2_XXS, GgmlType::IQ2_XS, GgmlType::IQ2_S, GgmlType::IQ3_XXS,
                     GgmlType::IQ3_S, GgmlType::IQ4_NL, GgmlType::IQ4_XS, GgmlType::MXFP4}) {
    EXPECT_TRUE(llmq::ggml::can_quantize(t)) << llmq::ggml::type_name(t);
    EXPECT_TRUE(llmq::ggml::can_dequantize(t)) << llmq::ggml::type_name(t);
  }
  // Q8_1 is only an activation type inside ggml's dot products; I32 is not a weight type.
  for (GgmlType t : {GgmlType::Q8_1, GgmlType::I32}) {
    EXPECT_FALSE(llmq::ggml::can_quantize(t)) << llmq::ggml::type_name(t);
    EXPECT_FALSE(llmq::ggml::can_dequantize(t)) << llmq::ggml::type_name(t);
  }
}

TEST(LegacyDispatch, WholeTensorEqualsRowByRow) {
  // Enough values to take the multithreaded path.
  const int64_t rows = 96, cols = 1024;
  std::mt19937 rng(99);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> x(static_cast<size_t>(rows * cols)), imatrix(static_cast<size_t>(cols));
  for (auto& v : x) v = normal(rng);
  for (auto& v : imatrix) v = std::abs(normal(rng)) * 100;
  const size_t row_bytes = llmq::ggml::row_size(GgmlType::Q5_1, cols);
  std::vector<uint8_t> whole(row_bytes * rows), by_row(row_bytes * rows);
  EXPECT_EQ(llmq::ggml::quantize_rows(GgmlType::Q5_1, x.data(), whole.data(), rows, cols, imatrix.data()),
            row_bytes * rows);
  for (int64_t r = 0; r < rows; ++r)
    llmq::ggml::quantize_row_q5_1(x.data() + r * cols, by_row.data() + r * row_bytes, cols, imatrix.data());
  EXPECT_EQ(whole, by_row);
}

TEST(LegacyDispatch, RowsThatAreNotWholeBlocksAreRejected) {
  std::vector<float> x(64, 1.0f);
  std::vector<uint8_t> out(256);
  EXPECT_THROW(llmq::ggml::quantize_rows(GgmlType::Q4_0, x.data(), out.data(), 1, 33), llmq::Error);
  EXPECT_THROW(llmq::ggml::quantize_rows(GgmlType::Q8_0, x.data(), out.data(), 2, 16), llmq::Error);
  EXPECT_THROW(llmq::ggml::dequantize_row(GgmlType::Q5_1, out.data(), x.data(), 40), llmq::Error);
  EXPECT_THROW(llmq::ggml::quantize_row_q4_1(x.data(), out.data(), 31, nullptr), llmq::Error);
  EXPECT_THROW(llmq::ggml::dequantize_row_q5_0(out.data(), x.data(), 48), llmq::Error);
  try {
    llmq::ggml::quantize_rows(GgmlType::Q4_0, x.data(), out.data(), 1, 33);
  } catch (const llmq::Error& e) {
    EXPECT_NE(std::string(e.what()).find("Q4_0"), std::string::npos) << e.what();
  }
  // Float rows have one value per block: any length is fine.
  EXPECT_EQ(llmq::ggml::quantize_rows(GgmlType::F16, x.data(), out.data(), 1, 33), 66u);
}

TEST(LegacyDispatch, UnsupportedTypesAreRejected) {
  std::vector<float> x(32, 1.0f);
  std::vector<uint8_t> out(64);
  EXPECT_THROW(llmq::ggml::quantize_rows(GgmlType::Q8_1, x.data(), out.data(), 1, 32), llmq::Error);
  EXPECT_THROW(llmq::ggml::dequantize_row(GgmlType::Q8_1, out.data(), x.data(), 32), llmq::Error);
}

TEST(LegacyDispatch, EmptyTensorWritesNothing) {
  EXPECT_EQ(llmq::ggml::quantize_rows(GgmlType::Q4_0, nullptr, nullptr, 0, 64), 0u);
}

}  // namespace
