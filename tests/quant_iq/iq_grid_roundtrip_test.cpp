// IQ1_S .. IQ3_S: round trips on Gaussian and real rows, stability when the
// decoded values are quantised again, the ordering of the formats by size,
// and importance weighting. (Exact decoding is checked in
// iq_grid_layout_test.cpp.)
#include <gtest/gtest.h>

#include "quant_iq/iq_test_support.h"
#include "util/error.h"

namespace {

using namespace iq_test;

// Smallest to largest.
constexpr GgmlType kTypes[] = {GgmlType::IQ1_S,  GgmlType::IQ1_M,   GgmlType::IQ2_XXS, GgmlType::IQ2_XS,
                               GgmlType::IQ2_S,  GgmlType::IQ3_XXS, GgmlType::IQ3_S};

TEST(IqGridRoundTrip, ErrorOnGaussianRowsFallsWithSize) {
  const auto x = gaussian(16 * 1024, 11);
  // Measured relative RMSE: 0.452, 0.420, 0.331, 0.288, 0.241, 0.178, 0.130
  // for the least-squares fit; IQ1_S 0.478, IQ1_M 0.440 once the rows'
  // scales are raised so they are not shrunk (iq_grid_rows.h).
  const double bound[] = {0.49, 0.45, 0.345, 0.30, 0.25, 0.19, 0.14};
  double previous = 1;
  for (size_t k = 0; k < std::size(kTypes); ++k) {
    const double e = relative_rmse(x, round_trip(kTypes[k], x, 1024));
    EXPECT_LT(e, bound[k]) << llmq::ggml::type_name(kTypes[k]);
    EXPECT_LT(e, previous) << llmq::ggml::type_name(kTypes[k]) << " is no better than the smaller type before it";
    previous = e;
    ::testing::Test::RecordProperty(llmq::ggml::type_name(kTypes[k]) + "_gaussian_rrmse", std::to_string(e));
  }
}

TEST(IqGridRoundTrip, RequantisingOwnOutputIsNearlyFree) {
  // Decoded values are points the format can store; the search should find
  // (almost) the same encoding again. Measured ratios 0.00 .. 0.06.
  const auto x = gaussian(8 * 1024, 3, 0.02f);
  for (GgmlType t : kTypes) {
    const auto y = round_trip(t, x, 1024);
    const auto z = round_trip(t, y, 1024);
    EXPECT_LT(relative_rmse(y, z), 0.1 * relative_rmse(x, y)) << llmq::ggml::type_name(t);
  }
}

TEST(IqGridRoundTrip, RealWeights) {
  for (const Rows& r : real_weight_sample("small-llama", 8)) {
    double previous = 1;
    for (GgmlType t : kTypes) {
      const double e = relative_rmse(r.values, round_trip(t, r.values, r.n_cols));
      EXPECT_LT(e, 0.5) << llmq::ggml::type_name(t);  // IQ1_S: 0.48
      EXPECT_LT(e, previous) << llmq::ggml::type_name(t);
      previous = e;
    }
  }
}

// The rows' super-scales are raised after the search (iq_grid_rows.h) so the
// decoded row is not shrunk towards zero: the least-squares fit alone keeps
// 0.86-0.97 of the row's projection <x, q>/<x, x> and 0.90-0.97 of its
// power. After the gain the projection must be closer to 1 than the power
// is above 1, both inside the band between the two single-criterion gains.
TEST(IqGridRoundTrip, DecodedRowsAreNotShrunk) {
  const Rows r = read_bf16_rows(model_path("small-llama"), "model.layers.2.self_attn.q_proj.weight", 16);
  for (GgmlType t : kTypes) {
    const auto q = round_trip(t, r.values, r.n_cols);
    for (int64_t row = 0; row < 16; ++row) {
      const auto [projection, power] = row_shrink(r.values, q, r.n_cols, row);
      EXPECT_GT(projection, 0.93) << llmq::ggml::type_name(t) << " row " << row;
      EXPECT_LE(projection, 1.0) << llmq::ggml::type_name(t) << " row " << row;
      EXPECT_GE(power, 1.0) << llmq::ggml::type_name(t) << " row " << row;
      EXPECT_LT(power, 1.15) << llmq::ggml::type_name(t) << " row " << row;
    }
  }
}

TEST(IqGridRoundTrip, ImportanceLowersWeightedError) {
  const Rows r = read_bf16_rows(model_path("small-llama"), "model.layers.3.mlp.gate_proj.weight", 32);
  const auto imp = skewed_importance(r.n_cols, 17);
  for (GgmlType t : kTypes) {
    const double plain = weighted_relative_mse(r.values, round_trip(t, r.values, r.n_cols), imp);
    const double guided = weighted_relative_mse(r.values, round_trip(t, r.values, r.n_cols, imp.data()), imp);
    // Measured ratios 0.37 .. 0.61.
    EXPECT_LT(guided, 0.7 * plain) << llmq::ggml::type_name(t);
  }
}

TEST(IqGridRoundTrip, ZeroTinyAndConstantRows) {
  for (GgmlType t : kTypes) {
    const std::vector<float> zeros(512, 0.f);
    for (float v : round_trip(t, zeros, 512)) ASSERT_EQ(v, 0.f) << llmq::ggml::type_name(t);
    for (float v : round_trip(t, gaussian(512, 9, 1e-30f), 512)) ASSERT_TRUE(std::isfinite(v)) << llmq::ggml::type_name(t);
    const std::vector<float> constant(512, 0.25f);
    const auto y = round_trip(t, constant, 512);
    EXPECT_LT(relative_rmse(constant, y), 0.2) << llmq::ggml::type_name(t);
  }
}

TEST(IqGridRoundTrip, RowNotWholeSuperBlocksIsAnError) {
  std::vector<float> x(288, 1.f);
  std::vector<uint8_t> q(1024);
  for (GgmlType t : kTypes) EXPECT_THROW(llmq::ggml::quantize_rows(t, x.data(), q.data(), 1, 288), llmq::Error);
}

}  // namespace
