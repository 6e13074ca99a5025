// SmoothQuant: factors worked out by hand, and the folds leave the
// full-precision model's function unchanged (dense with GQA, and MoE with
// its router reading the smoothed norm).
#include <gtest/gtest.h>

#include <cmath>

#include "calibration/activation_range_collector.h"
#include "calibration/calibration_pass.h"
#include "export/hf/smoothquant_model.h"
#include "lowbit_test_support.h"
#include "quant/methods/smoothquant.h"
#include "util/error.h"

namespace llmq {
namespace {

TEST(SmoothQuant, FactorsByHand) {
  // alpha 0.5: sqrt(4)/sqrt(1) = 2, sqrt(1)/sqrt(4) = 0.5; zero maxima keep 1
  const std::vector<float> a = {4, 1, 0, 9}, w = {1, 4, 2, 0};
  EXPECT_EQ(smoothquant_factors(a, w, 0.5f), (std::vector<float>{2, 0.5f, 1, 1}));
  // alpha 1: s = max|X|; alpha 0: s = 1 / max|W|
  EXPECT_EQ(smoothquant_factors(a, w, 1.0f), (std::vector<float>{4, 1, 1, 1}));
  EXPECT_EQ(smoothquant_factors(a, w, 0.0f), (std::vector<float>{1, 0.25f, 1, 1}));
  // clamped to [1e-5, 1e5]
  EXPECT_EQ(smoothquant_factors({1e12f}, {1e-12f}, 0.5f)[0], kMaxSmoothFactor);
  EXPECT_THROW(smoothquant_factors(a, w, 1.5f), Error);
  EXPECT_THROW(smoothquant_factors(a, {1, 2}, 0.5f), Error);
}

TEST(SmoothQuant, FoldHelpersByHand) {
  std::vector<float> W = {1, -2, 3, 4, 5, -6};  // [2, 3]
  std::vector<float> m;
  accumulate_column_max_abs(W.data(), 2, 3, m);
  EXPECT_EQ(m, (std::vector<float>{4, 5, 6}));
  const float s[3] = {2, 0.5f, 1};
  scale_columns(W.data(), 2, 3, s);
  EXPECT_EQ(W, (std::vector<float>{2, -1, 3, 8, 2.5f, -6}));
  divide_rows(W.data(), 2, 3, s);  // rows / s[0], s[1]
  EXPECT_EQ(W, (std::vector<float>{1, -0.5f, 1.5f, 16, 5, -12}));
  EXPECT_DOUBLE_EQ(max_over_median({1, 2, 3, 100}), 40.0);  // median (2 + 3) / 2
  EXPECT_DOUBLE_EQ(max_over_median({1, 5, 2}), 2.5);
}

// Smooths a copy of the model from a short calibration and compares logits.
void expect_smoothing_is_exact(const std::string& name, bool norms_only, int expected_inputs) {
  const LoadedModel& m = test::cached_model(name);
  ActivationRangeCollector ranges;
  Transformer original(m.weights);
  CalibrationPass pass(original);
  pass.add(ranges);
  pass.run(test::calib_windows(m, 2, 64));
  auto smoothed = std::make_shared<ModelWeights>(*m.weights);
  const SmoothingFactors f = smooth_model(*smoothed, ranges, {0.5f, norms_only});
  if (expected_inputs > 0) EXPECT_EQ(int(f.size()), expected_inputs);
  // The factors really move something.
  double spread = 0;
  for (const auto& [k, s] : f)
    for (float v : s) spread = std::max(spread, std::fabs(std::log(double(v))));
  EXPECT_GT(spread, 0.5);
  const std::vector<int32_t> tokens(test::wiki_tokens(*m.tokenizer).begin(), test::wiki_tokens(*m.tokenizer).begin() + 40);
  const std::vector<float> a = test::logits_of(m.weights, tokens), b = test::logits_of(smoothed, tokens);
  double max_diff = 0, max_abs = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_diff = std::max(max_diff, double(std::fabs(a[i] - b[i])));
    max_abs = std::max(max_abs, double(std::fabs(a[i])));
  }
  EXPECT_LT(max_diff, 1e-4 * max_abs) << name;
}

TEST(SmoothQuant, NormFoldsAreExact) { expect_smoothing_is_exact("tiny-llama", true, 2 * 4); }
// o_proj through v_proj (tied over the GQA group of 2 heads) and down through up_proj.
TEST(SmoothQuant, AllFoldsAreExactWithGqa) { expect_smoothing_is_exact("tiny-llama", false, 4 * 4); }
TEST(SmoothQuant, MoeFoldsIncludeTheRouter) { expect_smoothing_is_exact("tiny-qwen3moe", false, 0); }

}  // namespace
}  // namespace llmq
