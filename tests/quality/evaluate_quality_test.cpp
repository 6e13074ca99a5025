// evaluate_quality on tiny-llama against itself and against a rounded copy,
// checked against full-precision computations done here from the logits.
#include <cmath>

#include <gtest/gtest.h>

#include "eval/logit_store.h"
#include "eval/perplexity.h"
#include "eval/quality_eval.h"
#include "quality/quality_test_support.h"
#include "util/error.h"

using namespace llmq;

namespace {

constexpr int64_t kCtx = 64, kWindows = 3;

const BaseLogits& tiny_base_logits() {
  static const Transformer base(test::tiny_llama().weights);
  static const BaseLogits b =
      compute_base_logits(base, test::wikitext_tokens(), plan_windows(int64_t(test::wikitext_tokens().size()), kCtx, kWindows), {});
  return b;
}

}  // namespace

TEST(EvaluateQuality, ModelAgainstItselfIsIdentical) {
  const Transformer model(test::tiny_llama().weights);
  const QualityMetrics m = evaluate_quality(model, tiny_base_logits(), {});
  EXPECT_EQ(m.tokens, kWindows * kCtx / 2);
  EXPECT_LT(m.kld_mean, 1e-7);
  EXPECT_LT(m.kld_max, 1e-6);
  EXPECT_DOUBLE_EQ(m.top1_agreement, 1.0);
  // The base ranking is stored at 16 bits, so a near-tie at the set's edge
  // could in principle flip; on this text none does.
  EXPECT_DOUBLE_EQ(m.same_top_p, 1.0);
  EXPECT_NEAR(m.ppl, m.ppl_base, 1e-5 * m.ppl);
  EXPECT_NEAR(m.ppl_delta_pct, 0.0, 1e-4);
  EXPECT_LT(m.rms_p_diff, 1e-6);
}

TEST(EvaluateQuality, RoundedModelMatchesDirectComputation) {
  const Transformer base(test::tiny_llama().weights);
  const Transformer q4(test::rounded_copy(*test::tiny_llama().weights, 4));
  const QualityMetrics m = evaluate_quality(q4, tiny_base_logits(), {0.9});
  const test::DirectMetrics d = test::direct_metrics(base, q4, test::wikitext_tokens(), kCtx, kWindows, 0.9);

  ASSERT_GT(d.mean_kld, 1e-3);  // the copy really differs
  EXPECT_NEAR(m.kld_mean, d.mean_kld, 1e-4 * d.mean_kld);
  std::vector<float> sorted(d.kld.begin(), d.kld.end());
  std::sort(sorted.begin(), sorted.end());
  EXPECT_NEAR(m.kld_p99, percentile_sorted(sorted, 0.99), 1e-3 * m.kld_p99);
  EXPECT_NEAR(m.kld_max, sorted.back(), 1e-3 * m.kld_max);
  EXPECT_NEAR(m.ppl_base, std::exp(d.nll_base), 1e-5 * m.ppl_base);
  EXPECT_NEAR(m.ppl, std::exp(d.nll_model), 1e-6 * m.ppl);
  EXPECT_NEAR(m.ln_ppl_ratio, d.nll_model - d.nll_base, 1e-6);
  EXPECT_NEAR(m.ppl_delta_pct, 100 * (std::exp(d.nll_model - d.nll_base) - 1), 1e-4);
  EXPECT_DOUBLE_EQ(m.top1_agreement, d.top1);
  // Same-top-p may differ where the 16-bit base ranking ties; allow one token.
  EXPECT_NEAR(m.same_top_p, d.same_top_p, 1.0 / double(m.tokens) + 1e-12);
  EXPECT_LT(m.top1_agreement, 1.0);
  EXPECT_LT(m.same_top_p, m.top1_agreement + 1e-12);  // a 0.9 set is harder to match than one token
}

TEST(EvaluateQuality, PerplexitiesAgreeWithThePerplexityTool) {
  const Transformer base(test::tiny_llama().weights);
  const Transformer q8(test::rounded_copy(*test::tiny_llama().weights, 8));
  PerplexityOptions po;
  po.ctx = kCtx;
  po.chunks = kWindows;
  const double ppl_base = perplexity(base, test::wikitext_tokens(), po).ppl;
  const double ppl_q8 = perplexity(q8, test::wikitext_tokens(), po).ppl;
  const QualityMetrics m = evaluate_quality(q8, tiny_base_logits(), {});
  EXPECT_NEAR(m.ppl_base, ppl_base, 1e-5 * ppl_base);
  EXPECT_NEAR(m.ppl, ppl_q8, 1e-6 * ppl_q8);
  const QualityMetrics b = base_metrics(tiny_base_logits(), {});
  EXPECT_NEAR(b.ppl, ppl_base, 1e-5 * ppl_base);
  EXPECT_EQ(b.kld_mean, 0.0);
  EXPECT_EQ(b.top1_agreement, 1.0);
}

TEST(EvaluateQuality, MoreBitsDivergeLess) {
  const QualityMetrics m8 = evaluate_quality(Transformer(test::rounded_copy(*test::tiny_llama().weights, 8)),
                                             tiny_base_logits(), {});
  const QualityMetrics m3 = evaluate_quality(Transformer(test::rounded_copy(*test::tiny_llama().weights, 3)),
                                             tiny_base_logits(), {});
  EXPECT_LT(m8.kld_mean * 10, m3.kld_mean);
  EXPECT_GT(m8.top1_agreement, m3.top1_agreement);
  EXPECT_GT(m3.ppl_delta_pct, m8.ppl_delta_pct);
}

TEST(EvaluateQuality, RejectsBadTopPAndVocabularyMismatch) {
  const Transformer model(test::tiny_llama().weights);
  EXPECT_THROW(evaluate_quality(model, tiny_base_logits(), {0.0}), Error);
  EXPECT_THROW(evaluate_quality(model, tiny_base_logits(), {1.5}), Error);
  auto w = std::make_shared<ModelWeights>(*test::tiny_llama().weights);
  w->cfg.vocab -= 1;
  EXPECT_THROW(evaluate_quality(Transformer(w), tiny_base_logits(), {}), Error);
}
