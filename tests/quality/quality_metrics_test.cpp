// Summary statistics from hand-made token comparisons.
#include <cmath>

#include <gtest/gtest.h>

#include "eval/quality_metrics.h"
#include "util/error.h"

using namespace llmq;

TEST(QualityMetrics, PercentileInterpolatesLikeNumpy) {
  const std::vector<float> v = {1, 2, 3, 4, 5};
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 0.0), 1);
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 0.5), 3);
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 0.9), 4.6);  // numpy.percentile([1..5], 90)
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 1.0), 5);
  EXPECT_DOUBLE_EQ(percentile_sorted({7}, 0.99), 7);
}

TEST(QualityMetrics, PairedDeltaAndStandardErrors) {
  // Four tokens: nll_base = 1, 2, 3, 4; nll_model = base + 0.1, 0.2, 0.1, 0.2.
  QualityAccumulator acc;
  const double base[4] = {1, 2, 3, 4}, diff[4] = {0.1, 0.2, 0.1, 0.2}, kld[4] = {0.01, 0.02, 0.03, 0.10};
  for (int i = 0; i < 4; ++i) {
    TokenComparison t;
    t.nll_base = base[i];
    t.nll_model = base[i] + diff[i];
    t.kld = kld[i];
    t.same_top1 = i != 3;
    t.same_top_p = i == 0;
    t.p_diff = i % 2 ? 0.1 : -0.1;
    acc.add(t);
  }
  const QualityMetrics m = acc.finish(0.8);
  EXPECT_EQ(m.tokens, 4);
  EXPECT_NEAR(m.ppl_base, std::exp(2.5), 1e-12);
  EXPECT_NEAR(m.ppl, std::exp(2.65), 1e-12);
  // Population sd of (1,2,3,4) is sqrt(1.25); stderr = sqrt(1.25 / 3).
  EXPECT_NEAR(m.ppl_base_stderr, std::exp(2.5) * std::sqrt(1.25 / 3), 1e-9);
  // Paired: d = 0.1, 0.2, 0.1, 0.2 -> mean 0.15, population variance 0.0025.
  EXPECT_NEAR(m.ln_ppl_ratio, 0.15, 1e-12);
  EXPECT_NEAR(m.ln_ppl_ratio_stderr, std::sqrt(0.0025 / 3), 1e-12);
  EXPECT_NEAR(m.ppl_delta_pct, 100 * (std::exp(0.15) - 1), 1e-9);
  EXPECT_NEAR(m.ppl_delta_pct_stderr, 100 * std::exp(0.15) * std::sqrt(0.0025 / 3), 1e-9);
  EXPECT_NEAR(m.ppl_delta, std::exp(2.65) - std::exp(2.5), 1e-9);
  // The paired error is far below what two independent PPL errors would give.
  EXPECT_LT(m.ppl_delta_stderr, 0.2 * std::hypot(m.ppl_stderr, m.ppl_base_stderr));
  // Linearised directly: e_t = ppl * nll_model - ppl_base * nll_base.
  {
    double e[4], mean = 0, var = 0;
    for (int i = 0; i < 4; ++i) mean += (e[i] = m.ppl * (base[i] + diff[i]) - m.ppl_base * base[i]) / 4;
    for (int i = 0; i < 4; ++i) var += (e[i] - mean) * (e[i] - mean) / 4;
    EXPECT_NEAR(m.ppl_delta_stderr, std::sqrt(var / 3), 1e-9);
  }
  EXPECT_NEAR(m.kld_mean, 0.04, 1e-12);
  EXPECT_NEAR(m.kld_median, 0.025, 1e-7);
  EXPECT_NEAR(m.kld_p99, 0.03 + 0.97 * 0.07, 1e-7);
  EXPECT_NEAR(m.kld_max, 0.10, 1e-7);
  EXPECT_DOUBLE_EQ(m.top1_agreement, 0.75);
  EXPECT_NEAR(m.top1_agreement_stderr, std::sqrt(0.75 * 0.25 / 3), 1e-12);
  EXPECT_DOUBLE_EQ(m.same_top_p, 0.25);
  EXPECT_DOUBLE_EQ(m.top_p, 0.8);
  EXPECT_NEAR(m.rms_p_diff, 0.1, 1e-12);
}

TEST(QualityMetrics, NothingToSummarize) {
  QualityAccumulator acc;
  EXPECT_THROW(acc.finish(0.9), Error);
}
