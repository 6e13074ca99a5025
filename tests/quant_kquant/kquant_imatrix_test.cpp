// Importance weighting: with an importance vector the quantiser trades error
// on unimportant columns for error on important ones.
#include <gtest/gtest.h>

#include <random>

#include "quant_kquant/kquant_test_support.h"

namespace {

using namespace kquant_test;

constexpr GgmlType kTypes[] = {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

// Heavy-tailed importance, as real activation statistics are: a few columns
// matter far more than the rest.
std::vector<float> skewed_importance(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::lognormal_distribution<float> dist(0.f, 1.5f);
  std::vector<float> imp(n);
  for (auto& v : imp) v = dist(rng);
  return imp;
}

TEST(KQuantImatrix, ReducesImportanceWeightedError) {
  const Rows r = read_bf16_rows(model_path("small-llama"), "model.layers.3.mlp.gate_proj.weight", 32);
  const auto imp = skewed_importance(r.n_cols, 17);
  for (GgmlType t : kTypes) {
    const double plain = weighted_relative_mse(r.values, round_trip(t, r.values, r.n_cols), imp);
    const double guided = weighted_relative_mse(r.values, round_trip(t, r.values, r.n_cols, imp.data()), imp);
    // Measured ratios guided/plain are 0.55..0.75.
    EXPECT_LT(guided, 0.85 * plain) << llmq::ggml::type_name(t);
  }
}

TEST(KQuantImatrix, UniformImportanceChangesNothing) {
  // Weights are importance * f(x): a constant importance rescales every
  // weight alike, so the chosen encoding must be the same bytes (4 is a
  // power of two, so even the float sums scale exactly).
  const auto x = gaussian(4 * 512, 21);
  const std::vector<float> ones(512, 1.f), fours(512, 4.f);
  for (GgmlType t : kTypes) {
    const RowCodec c = codec(t);
    const size_t bytes = llmq::ggml::row_size(t, 512);
    std::vector<uint8_t> a(bytes), b(bytes), d(bytes);
    for (int row = 0; row < 4; ++row) {
      c.quantize(x.data() + 512 * row, a.data(), 512, nullptr);
      c.quantize(x.data() + 512 * row, b.data(), 512, ones.data());
      c.quantize(x.data() + 512 * row, d.data(), 512, fours.data());
      EXPECT_EQ(a, b) << llmq::ggml::type_name(t);
      EXPECT_EQ(a, d) << llmq::ggml::type_name(t);
    }
  }
}

TEST(KQuantImatrix, ZeroImportanceSubBlockStillQuantised) {
  // Columns nobody uses (importance 0) must not come back as garbage: the
  // quantiser falls back to the plain weighting there. Q2_K and Q3_K then
  // scale the whole row by one gain (row_gain.h) weighed by the importance,
  // so their tail matches the plain fit to within that gain, not exactly.
  const auto x = gaussian(512, 23);
  auto imp = skewed_importance(512, 29);
  for (int i = 256; i < 512; ++i) imp[i] = 0.f;
  for (GgmlType t : kTypes) {
    const auto y = round_trip(t, x, 512, imp.data());
    const std::vector<float> tail_x(x.begin() + 256, x.end()), tail_y(y.begin() + 256, y.end());
    const auto plain = round_trip(t, tail_x, 256);
    const bool row_gain = t == GgmlType::Q2_K || t == GgmlType::Q3_K;
    const double want = relative_rmse(tail_x, plain);
    EXPECT_NEAR(relative_rmse(tail_x, tail_y), want, row_gain ? 0.02 * want : 1e-6) << llmq::ggml::type_name(t);
  }
}

}  // namespace
