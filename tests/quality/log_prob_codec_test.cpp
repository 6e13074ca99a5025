// The 16-bit log-prob record: what it stores exactly, and how close the rest is.
#include <cmath>
#include <limits>
#include <random>

#include <gtest/gtest.h>

#include "eval/kl_divergence.h"
#include "eval/log_prob_codec.h"
#include "quality/quality_test_support.h"
#include "util/error.h"

using namespace llmq;

static std::vector<float> random_logits(int64_t n, uint32_t seed, float spread) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, spread);
  std::vector<float> l(static_cast<size_t>(n));
  for (float& v : l) v = d(rng);
  return l;
}

TEST(LogProbCodec, RecordSizeIsPaddedTo16Bytes) {
  EXPECT_EQ(log_prob_record_bytes(8), 16 + 16);
  EXPECT_EQ(log_prob_record_bytes(9), 16 + 32);
  EXPECT_EQ(log_prob_record_bytes(8192), 16 + 16384);
  EXPECT_EQ(log_prob_record_bytes(151937) % 16, 0);
}

TEST(LogProbCodec, StoresTargetAndTop1ExactlyAndTheRestWithinHalfAStep) {
  const int64_t V = 1003;
  std::vector<float> logits = random_logits(V, 7, 4.0f);
  logits[417] = 14.0f;  // a clear argmax
  std::vector<uint8_t> rec(size_t(log_prob_record_bytes(V)), 0xAB);
  encode_log_probs(logits.data(), V, 55, rec.data());
  LogProbRecord r(rec.data());
  const std::vector<double> exact = test::log_softmax_exact(logits.data(), V);
  EXPECT_EQ(r.top1(), 417);
  EXPECT_NEAR(r.target_log_prob(), exact[55], 1e-6);
  const double range = *std::max_element(exact.begin(), exact.end()) - *std::min_element(exact.begin(), exact.end());
  EXPECT_NEAR(r.lp_step(), range / 65535.0, 1e-9);
  double worst = 0;
  for (int64_t i = 0; i < V; ++i) worst = std::max(worst, std::abs(double(r.log_prob(i)) - exact[size_t(i)]));
  EXPECT_LE(worst, 0.5 * r.lp_step() + 2e-6);
  for (int64_t i = V; i < (log_prob_record_bytes(V) - 16) / 2; ++i) EXPECT_EQ(r.codes()[i], 0) << "padding " << i;
}

TEST(LogProbCodec, FloorsHopelesslyUnlikelyTokens) {
  std::vector<float> logits = {10.0f, 0.0f, -500.0f, 5.0f};
  std::vector<uint8_t> rec(size_t(log_prob_record_bytes(4)));
  encode_log_probs(logits.data(), 4, 2, rec.data());
  LogProbRecord r(rec.data());
  EXPECT_EQ(r.codes()[2], 0);
  EXPECT_EQ(r.codes()[0], 65535);
  EXPECT_NEAR(r.log_prob(0) - r.log_prob(2), kLogProbRange, 1e-3);  // floored, not -510
  EXPECT_LT(r.target_log_prob(), -500.0f);                          // but the target is kept exactly
}

TEST(LogProbCodec, RejectsNaN) {
  std::vector<float> logits = {1.0f, std::numeric_limits<float>::quiet_NaN(), 0.0f};
  std::vector<uint8_t> rec(size_t(log_prob_record_bytes(3)));
  EXPECT_THROW(encode_log_probs(logits.data(), 3, 0, rec.data()), Error);
}

// compare_token against the exact formulas on synthetic distributions.
TEST(CompareToken, MatchesExactKlAndAgreement) {
  const int64_t V = 5000;
  const std::vector<float> p = random_logits(V, 1, 3.0f);
  std::vector<float> q = p;
  std::mt19937 rng(2);
  std::normal_distribution<float> noise(0.0f, 0.3f);
  for (float& v : q) v += noise(rng);
  std::vector<uint8_t> rec(size_t(log_prob_record_bytes(V)));
  encode_log_probs(p.data(), V, 123, rec.data());
  CompareScratch s;
  const TokenComparison t = compare_token(q.data(), LogProbRecord(rec.data()), V, 123, 0.9, s);

  const std::vector<double> lp = test::log_softmax_exact(p.data(), V), lq = test::log_softmax_exact(q.data(), V);
  double kl = 0;
  for (int64_t i = 0; i < V; ++i) kl += std::exp(lp[size_t(i)]) * (lp[size_t(i)] - lq[size_t(i)]);
  EXPECT_NEAR(t.kld, kl, 1e-6 + 1e-4 * kl);
  EXPECT_NEAR(t.nll_base, -lp[123], 1e-5);
  EXPECT_NEAR(t.nll_model, -lq[123], 1e-9);
  EXPECT_NEAR(t.p_diff, std::exp(lq[123]) - std::exp(lp[123]), 1e-7);
  const bool top1 = std::max_element(lp.begin(), lp.end()) - lp.begin() == std::max_element(lq.begin(), lq.end()) - lq.begin();
  EXPECT_EQ(t.same_top1, top1);
  double hp = 0, hq = 0;
  for (int64_t i = 0; i < V; ++i) hp -= std::exp(lp[size_t(i)]) * lp[size_t(i)], hq -= std::exp(lq[size_t(i)]) * lq[size_t(i)];
  EXPECT_NEAR(t.entropy_base, hp, 1e-4 * hp);  // P from its 16-bit record
  EXPECT_NEAR(t.entropy_model, hq, 1e-9 * hq);

  // Against itself: nothing differs.
  const TokenComparison self = compare_token(p.data(), LogProbRecord(rec.data()), V, 123, 0.9, s);
  EXPECT_LT(self.kld, 1e-8);
  EXPECT_NEAR(self.entropy_model, self.entropy_base, 1e-4 * self.entropy_base);
  EXPECT_TRUE(self.same_top1);
  EXPECT_TRUE(self.same_top_p);
}

TEST(CompareToken, TopPSetIsAboutTheSetNotItsOrder) {
  // P: tokens 0,1,2 carry ~0.97 of the mass, so the 0.9 set is {0,1,2} (0.5 + 0.3 + 0.17).
  const std::vector<float> p = {std::log(0.5f), std::log(0.3f), std::log(0.17f), std::log(0.02f), std::log(0.01f)};
  std::vector<uint8_t> rec(size_t(log_prob_record_bytes(5)));
  encode_log_probs(p.data(), 5, 0, rec.data());
  CompareScratch s;
  auto same = [&](std::vector<float> q, double top_p) {
    return compare_token(q.data(), LogProbRecord(rec.data()), 5, 0, top_p, s).same_top_p;
  };
  EXPECT_TRUE(same({0.0f, 1.0f, 2.0f, -5.0f, -6.0f}, 0.9));   // same three, reversed order
  EXPECT_FALSE(same({3.0f, 2.0f, -1.0f, 0.0f, -6.0f}, 0.9));  // token 3 outranks token 2
  EXPECT_FALSE(same({3.0f, 2.0f, 1.0f, 1.01f, -6.0f}, 0.9));  // token 3 outranks token 2 by 0.01 nats
  // ... but by less than the base's code step (ln(50) / 65535 here) it is a tie, not a disagreement.
  EXPECT_TRUE(same({3.0f, 2.0f, 1.0f, 1.00003f, -6.0f}, 0.9));
  EXPECT_TRUE(same({3.0f, 2.0f, -1.0f, 0.0f, -6.0f}, 0.75));  // the 0.75 set is {0, 1}
  EXPECT_TRUE(same({-9.0f, 2.0f, -1.0f, 0.0f, 5.0f}, 1.0));   // p = 1: the whole vocabulary
}
