// An importance vector must steer the error towards unimportant columns:
// with a skewed importance, the importance-weighted error of the weighted
// quantization is lower than that of the unweighted one.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "legacy_test_support.h"

namespace {

using llmq::ggml::GgmlType;

class LegacyImatrix : public ::testing::TestWithParam<GgmlType> {};

TEST_P(LegacyImatrix, SkewedImportanceLowersWeightedError) {
  const GgmlType type = GetParam();
  const legacy_test::Tensor t =
      legacy_test::read_bf16_tensor(legacy_test::tiny_llama_weights(), "model.layers.0.mlp.down_proj.weight");
  // Columns differ in importance by up to 1000x, in a pattern unrelated to
  // the weights, as activations of a few outlier channels would.
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> exponent(0.0f, 3.0f);
  std::vector<float> importance(static_cast<size_t>(t.cols));
  for (auto& v : importance) v = std::pow(10.0f, exponent(rng));

  const auto plain = legacy_test::round_trip(type, t.values, t.cols);
  const auto weighted = legacy_test::round_trip(type, t.values, t.cols, importance.data());
  const double plain_err = legacy_test::sum_squared_diff(t.values, plain, importance.data(), t.cols);
  const double weighted_err = legacy_test::sum_squared_diff(t.values, weighted, importance.data(), t.cols);
  std::printf("[ imatrix ] %s weighted error: unweighted quantization %.4g, weighted %.4g (ratio %.3f)\n",
              llmq::ggml::type_name(type).c_str(), plain_err, weighted_err, weighted_err / plain_err);
  EXPECT_LT(weighted_err, 0.9 * plain_err);
}

TEST_P(LegacyImatrix, UniformImportanceStaysClose) {
  // A flat importance vector must not make things worse than ~ggml's weighting does.
  const GgmlType type = GetParam();
  const legacy_test::Tensor t =
      legacy_test::read_bf16_tensor(legacy_test::tiny_llama_weights(), "model.layers.0.mlp.down_proj.weight");
  const std::vector<float> flat(size_t(t.cols), 1.0f);
  const double plain = legacy_test::relative_rmse(t.values, legacy_test::round_trip(type, t.values, t.cols));
  const double weighted =
      legacy_test::relative_rmse(t.values, legacy_test::round_trip(type, t.values, t.cols, flat.data()));
  EXPECT_LT(weighted, plain * 1.05);
}

TEST(LegacyImatrix, ZeroImportanceBlockFallsBackToPlainError) {
  // Columns never activated (importance 0 everywhere) still get a sensible scale.
  const std::vector<float> x = {1, -2, 3, -4, 5, -6, 7, -8, 1, 2, 3, 4, 5, 6, 7, 8,
                                0.5f, 1.5f, 2.5f, 3.5f, -0.5f, -1.5f, -2.5f, -3.5f, 0, 0, 0, 0, 1, 1, 1, 1};
  const std::vector<float> zeros(32, 0.0f);
  EXPECT_EQ(legacy_test::round_trip(GgmlType::Q4_0, x, 32, zeros.data()), legacy_test::round_trip(GgmlType::Q4_0, x, 32));
}

INSTANTIATE_TEST_SUITE_P(Types, LegacyImatrix,
                         ::testing::Values(GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1),
                         [](const auto& info) { return llmq::ggml::type_name(info.param); });

}  // namespace
