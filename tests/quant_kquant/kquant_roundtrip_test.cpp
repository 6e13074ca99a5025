// Quantise -> dequantise round trips: error bounds per type on Gaussian rows
// and on real weight rows of the fixture models, and the ordering of the
// types by error.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>

#include "quant_kquant/kquant_test_support.h"
#include "util/error.h"

namespace {

using namespace kquant_test;

// Relative RMSE (error RMS / data RMS) that each type must stay under.
// Measured: Gaussian rows and both fixture models land at about
// Q2_K 26.5%, Q3_K 14.5%, Q4_K 7.0%, Q5_K 3.5%, Q6_K 1.73%, Q8_K 0.7-0.8%;
// the bounds leave some 5-8% headroom.
const std::map<GgmlType, double> kMaxRelativeRmse = {
    {GgmlType::Q2_K, 0.280}, {GgmlType::Q3_K, 0.155}, {GgmlType::Q4_K, 0.075},
    {GgmlType::Q5_K, 0.0375}, {GgmlType::Q6_K, 0.0185}, {GgmlType::Q8_K, 0.0090},
};

constexpr GgmlType kByBits[] = {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K,
                                GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_K};

// RMSE per type on one set of rows, checked against the bounds and for a
// strictly falling error as bits grow.
void check_rows(const std::vector<float>& x, int64_t n_cols, const std::string& what) {
  double previous = 1e9;
  for (GgmlType t : kByBits) {
    const double e = relative_rmse(x, round_trip(t, x, n_cols));
    EXPECT_LT(e, kMaxRelativeRmse.at(t)) << what << " " << llmq::ggml::type_name(t);
    EXPECT_LT(e, previous) << what << ": " << llmq::ggml::type_name(t) << " is not better than the type below it";
    previous = e;
  }
}

TEST(KQuantRoundTrip, GaussianRows) {
  const int64_t n_cols = 1024;
  check_rows(gaussian(32 * n_cols, 1234), n_cols, "gaussian");
}

TEST(KQuantRoundTrip, ScaleDoesNotMatter) {
  // The same rows scaled by 1e-3 and by 1e3 (both far from fp16's limits
  // once divided into 6-bit codes) keep their relative error.
  const int64_t n_cols = 512;
  const auto x = gaussian(8 * n_cols, 99);
  for (GgmlType t : kByBits) {
    const double base = relative_rmse(x, round_trip(t, x, n_cols));
    for (float k : {1e-3f, 1e3f}) {
      std::vector<float> xs(x);
      for (auto& v : xs) v *= k;
      EXPECT_NEAR(relative_rmse(xs, round_trip(t, xs, n_cols)), base, 0.03 * base)
          << llmq::ggml::type_name(t) << " scaled by " << k;
    }
  }
}

TEST(KQuantRoundTrip, TinyLlamaWeights) {
  for (const Rows& r : real_weight_sample("tiny-llama", 48)) check_rows(r.values, r.n_cols, "tiny-llama");
}

TEST(KQuantRoundTrip, SmallLlamaWeights) {
  for (const Rows& r : real_weight_sample("small-llama", 24)) check_rows(r.values, r.n_cols, "small-llama");
}

TEST(KQuantRoundTrip, ZeroAndConstantRows) {
  for (GgmlType t : kByBits) {
    const std::vector<float> zero(512, 0.f);
    for (float v : round_trip(t, zero, 512)) ASSERT_EQ(v, 0.f) << llmq::ggml::type_name(t);
    // A constant row is one level times one coded scale: exact up to the
    // fp16 super-scale and the scale code.
    for (float c : {0.37f, -2.5f}) {
      const std::vector<float> constant(256, c);
      for (float v : round_trip(t, constant, 256)) ASSERT_NEAR(v, c, 2e-3 * std::fabs(c)) << llmq::ggml::type_name(t);
    }
  }
}

TEST(KQuantRoundTrip, TinyValuesStayFinite) {
  // Scales this small underflow fp16 (even its subnormals): the block may
  // decode as zeros, but never as NaN, infinities or anything larger than
  // the input.
  for (float magnitude : {1e-12f, 1e-30f, 1e-40f}) {
    auto x = gaussian(256, 13, magnitude);
    for (GgmlType t : kByBits)
      for (float v : round_trip(t, x, 256)) {
        ASSERT_TRUE(std::isfinite(v)) << llmq::ggml::type_name(t) << " at " << magnitude;
        ASSERT_LE(std::fabs(v), 10 * magnitude) << llmq::ggml::type_name(t);
      }
  }
}

TEST(KQuantRoundTrip, OutlierIsKeptClose) {
  // One large value among small ones: the block's scale must follow it, so
  // the outlier itself comes back within a level's width of its own sub-block.
  auto x = gaussian(256, 5, 0.01f);
  x[77] = 3.f;
  for (GgmlType t : kByBits) {
    const auto y = round_trip(t, x, 256);
    EXPECT_NEAR(y[77], 3.f, 0.1f) << llmq::ggml::type_name(t);
  }
}

TEST(KQuantRoundTrip, Q8KBlockSums) {
  const auto x = gaussian(512, 8);
  std::vector<uint8_t> buf(2 * 292);
  llmq::ggml::quantize_row_q8_K(x.data(), buf.data(), 512, nullptr);
  for (int b = 0; b < 2; ++b) {
    const uint8_t* block = buf.data() + 292 * b;
    for (int j = 0; j < 16; ++j) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += int8_t(block[4 + 16 * j + i]);
      int16_t stored;
      std::memcpy(&stored, block + 260 + 2 * j, 2);
      EXPECT_EQ(stored, sum) << "block " << b << " group " << j;
    }
    for (int i = 0; i < 256; ++i) EXPECT_GE(int8_t(block[4 + i]), -127);  // ggml's dot products need -127..127
  }
}

TEST(KQuantRoundTrip, RejectsPartialBlocks) {
  std::vector<float> x(300, 1.f);
  std::vector<uint8_t> buf(1024);
  for (GgmlType t : kByBits) EXPECT_THROW(codec(t).quantize(x.data(), buf.data(), 300, nullptr), llmq::Error);
  EXPECT_THROW(llmq::ggml::dequantize_row_q4_K(buf.data(), x.data(), 100), llmq::Error);
}

}  // namespace

// Q2_K and Q3_K scale each row by a gain after the fit (row_gain.h), so the
// decoded row is not shrunk towards zero: without it Q2_K keeps about 0.95
// of a small-llama row's projection <x, q>/<x, x>. After the gain the
// projection is closer to 1 than that and the power <q, q>/<x, x> not below 1
// (the gain sits between the unbiasing and the power-keeping one).
TEST(KQuantRoundTrip, LowBitRowsAreNotShrunk) {
  const Rows r = read_bf16_rows(model_path("small-llama"), "model.layers.2.self_attn.q_proj.weight", 16);
  for (GgmlType t : {GgmlType::Q2_K, GgmlType::Q3_K}) {
    const auto q = round_trip(t, r.values, r.n_cols);
    for (int64_t row = 0; row < 16; ++row) {
      const auto [projection, power] = row_shrink(r.values, q, r.n_cols, row);
      // Measured: Q2_K 0.982 / 1.034-1.039, Q3_K 0.994-0.995 / 1.009-1.012.
      const double min_projection = t == GgmlType::Q2_K ? 0.97 : 0.99;
      EXPECT_GT(projection, min_projection) << llmq::ggml::type_name(t) << " row " << row;
      EXPECT_LE(projection, 1.0) << llmq::ggml::type_name(t) << " row " << row;
      EXPECT_GE(power, 1.0) << llmq::ggml::type_name(t) << " row " << row;
      EXPECT_LT(power, 1.06) << llmq::ggml::type_name(t) << " row " << row;
    }
  }
}
