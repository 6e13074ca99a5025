// AWQ's model-independent pieces: the scale formula and weight term worked out
// by hand, the Gram-based output error against a direct computation, and the
// search beating plain rounding on a layer with salient input channels.
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "quant/methods/awq.h"
#include "quant/methods/gram_factor.h"
#include "quant/methods/gptq.h"
#include "quant/methods/rtn.h"

namespace llmq {
namespace {

IntQuantSpec spec(int bits, int64_t group) {
  IntQuantSpec s;
  s.bits = bits;
  s.group_size = group;
  s.scale_storage = ScaleStorage::F32;
  return s;
}

Tensor tensor(int64_t rows, int64_t cols, std::vector<float> v) {
  Tensor t;
  t.resize({rows, cols});
  t.data = std::move(v);
  return t;
}

// Inputs [tokens, n] whose channels have very different magnitudes (a few
// salient ones, as in real activations), and their Gram matrix.
struct Inputs {
  std::vector<float> x_mean;
  std::vector<double> gram;
};
Inputs salient_inputs(int64_t n, int64_t tokens, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<double> nd(0.0, 1.0);
  std::vector<double> mag(size_t(n), 1.0);
  for (int64_t c = 0; c < n; c += 13) mag[size_t(c)] = 20.0;
  Inputs in;
  in.x_mean.assign(size_t(n), 0.0f);
  in.gram.assign(size_t(n * n), 0.0);
  std::vector<double> x(static_cast<size_t>(n));
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t c = 0; c < n; ++c) {
      x[size_t(c)] = mag[size_t(c)] * nd(g);
      in.x_mean[size_t(c)] += float(std::fabs(x[size_t(c)]) / double(tokens));
    }
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) in.gram[size_t(i * n + j)] += x[size_t(i)] * x[size_t(j)];
  }
  return in;
}

Tensor random_weight(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> nd(0.0f, 0.05f);
  Tensor t;
  t.resize({rows, cols});
  for (float& v : t.data) v = nd(g);
  return t;
}

TEST(Awq, ScalesForAlphaByHand) {
  // x = (1, 4), alpha 1/2: s = (1, 2), divided by sqrt(max * min) = sqrt(2).
  const std::vector<float> s = awq_scales_for_alpha({1.0f, 4.0f}, {}, 0.5);
  EXPECT_NEAR(s[0], 1.0 / std::sqrt(2.0), 1e-6);
  EXPECT_NEAR(s[1], 2.0 / std::sqrt(2.0), 1e-6);
  for (float v : awq_scales_for_alpha({0.3f, 7.0f, 2.0f}, {}, 0.0)) EXPECT_FLOAT_EQ(v, 1.0f);
  // Duo scaling, alpha 1/2: x^a / (w^(1-a) + 1e-4) with x = (1, 4), w = (1, 0.25): (1/1.0001, 2/0.5001).
  const std::vector<float> d = awq_scales_for_alpha({1.0f, 4.0f}, {1.0f, 0.25f}, 0.5);
  const double a = 1 / 1.0001, b = 2 / 0.5001, norm = std::sqrt(a * b);
  EXPECT_NEAR(d[0], a / norm, 1e-5);
  EXPECT_NEAR(d[1], b / norm, 1e-5);
}

TEST(Awq, WeightMagnitudeByHand) {
  // Group of 2: row 0 (1, -2) / 2 = (0.5, 1); row 1 (4, 0) / 4 = (1, 0); mean over rows (0.75, 0.5).
  const Tensor w = tensor(2, 2, {1, -2, 4, 0});
  const std::vector<float> m = awq_weight_magnitude({{&w, nullptr, nullptr}}, spec(4, 2), 2);
  EXPECT_NEAR(m[0], 0.75, 1e-5);
  EXPECT_NEAR(m[1], 0.5, 1e-5);
  // Two columns tied to one scale (o_proj under GQA): their values are averaged.
  const std::vector<int64_t> tie = {0, 0};
  const std::vector<float> t = awq_weight_magnitude({{&w, nullptr, &tie}}, spec(4, 2), 1);
  EXPECT_NEAR(t[0], 0.625, 1e-5);
}

TEST(Awq, ScaledOutputErrorMatchesADirectComputation) {
  const int64_t rows = 48, n = 64;
  const Tensor w = random_weight(rows, n, 1);
  const Inputs in = salient_inputs(n, 300, 2);
  const std::vector<float> gram_f(in.gram.begin(), in.gram.end());
  const IntQuantSpec s = spec(4, 32);
  // s = 1 is plain RTN.
  const double rtn = output_error_from_gram(w, quantize_rtn(w, s).dequantize(), in.gram);
  EXPECT_NEAR(awq_scaled_output_error({&w, &gram_f, nullptr}, std::vector<float>(size_t(n), 1.0f), s), rtn, 1e-3 * rtn);
  // Any s: quantize W diag(s), then undo the scale, then measure.
  const std::vector<float> sc = awq_scales_for_alpha(in.x_mean, {}, 0.5);
  Tensor scaled = w;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < n; ++c) scaled.data[size_t(r * n + c)] *= sc[size_t(c)];
  Tensor back = quantize_rtn(scaled, s).dequantize();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < n; ++c) back.data[size_t(r * n + c)] /= sc[size_t(c)];
  const double direct = output_error_from_gram(w, back, in.gram);
  EXPECT_NEAR(awq_scaled_output_error({&w, &gram_f, nullptr}, sc, s), direct, 1e-3 * direct);
}

TEST(GramFactor, RankOfFewTokensAndExactProduct) {
  const int64_t n = 64;
  const Inputs few = salient_inputs(n, 20, 3);  // 20 tokens: rank 20
  const GramFactor f = low_rank_gram_factor(few.gram, n);
  ASSERT_EQ(f.rank, 20);
  ASSERT_EQ(f.f.size(), size_t(n * 20));
  double worst = 0, scale = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double v = 0;
      for (int64_t k = 0; k < f.rank; ++k) v += double(f.f[size_t(i * f.rank + k)]) * f.f[size_t(j * f.rank + k)];
      worst = std::max(worst, std::fabs(v - few.gram[size_t(i * n + j)]));
      scale = std::max(scale, std::fabs(few.gram[size_t(i * n + j)]));
    }
  EXPECT_LT(worst, 1e-5 * scale);
  // More tokens than channels: full rank, the Gram matrix itself is the cheaper form.
  EXPECT_TRUE(low_rank_gram_factor(salient_inputs(n, 300, 4).gram, n).f.empty());
  // No input at all: nothing to factor.
  EXPECT_TRUE(low_rank_gram_factor(std::vector<double>(size_t(n * n), 0.0), n).f.empty());
}

TEST(Awq, LowRankErrorAndSearchMatchTheGramForm) {
  const int64_t rows = 40, n = 96;
  const Tensor w = random_weight(rows, n, 5);
  const Inputs in = salient_inputs(n, 30, 6);
  const std::vector<float> gram_f(in.gram.begin(), in.gram.end());
  const GramFactor f = low_rank_gram_factor(in.gram, n);
  ASSERT_EQ(f.rank, 30);
  const IntQuantSpec s = spec(3, 32);
  const std::vector<float> sc = awq_scales_for_alpha(in.x_mean, {}, 0.4);
  const double full = awq_scaled_output_error({&w, &gram_f, nullptr}, sc, s);
  EXPECT_NEAR(awq_scaled_output_error({&w, nullptr, nullptr, &f}, sc, s), full, 1e-4 * full);
  const AwqSearchResult a = awq_search_group({{&w, &gram_f, nullptr}}, in.x_mean, s, AwqOptions{});
  const AwqSearchResult b = awq_search_group({{&w, nullptr, nullptr, &f}}, in.x_mean, s, AwqOptions{});
  EXPECT_EQ(a.alpha, b.alpha);
  EXPECT_NEAR(a.loss, b.loss, 1e-4 * a.loss);
}

TEST(Awq, SearchBeatsRoundToNearestOnSalientChannels) {
  const int64_t n = 128;
  const Inputs in = salient_inputs(n, 600, 3);
  const std::vector<float> gram_f(in.gram.begin(), in.gram.end());
  const Tensor w1 = random_weight(96, n, 4), w2 = random_weight(64, n, 5);
  for (bool duo : {false, true}) {
    AwqOptions o;
    o.duo_scaling = duo;
    const AwqSearchResult r =
        awq_search_group({{&w1, &gram_f, nullptr}, {&w2, &gram_f, nullptr}}, in.x_mean, spec(3, 64), o);
    EXPECT_FALSE(r.identity);
    EXPECT_GT(r.alpha, 0.0);
    EXPECT_LT(r.loss, 0.8 * r.loss_identity) << "duo " << duo;
    // The reported loss is the loss of the returned scales.
    const double check = awq_scaled_output_error({&w1, &gram_f, nullptr}, r.scales, spec(3, 64)) +
                         awq_scaled_output_error({&w2, &gram_f, nullptr}, r.scales, spec(3, 64));
    EXPECT_NEAR(check, r.loss, 1e-6 * r.loss);
  }
}

TEST(Awq, IdentityKeptWhenScalingCannotHelp) {
  // Every input equally active: no channel is salient and s = 1 is as good as any grid point.
  const int64_t n = 64;
  std::vector<double> gram(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) gram[size_t(i * n + i)] = 1.0;
  const std::vector<float> gram_f(gram.begin(), gram.end());
  const Tensor w = random_weight(32, n, 6);
  AwqOptions o;
  o.duo_scaling = false;
  const AwqSearchResult r = awq_search_group({{&w, &gram_f, nullptr}}, std::vector<float>(size_t(n), 1.0f), spec(4, 32), o);
  EXPECT_TRUE(r.identity);
  EXPECT_EQ(r.loss, r.loss_identity);
}

TEST(Awq, ClipSearchNeverIncreasesTheOutputError) {
  const int64_t n = 64;
  const Tensor w = random_weight(40, n, 7);
  const Inputs in = salient_inputs(n, 300, 8);
  const IntQuantSpec s = spec(3, 32);
  const std::vector<float> shrink = awq_search_clip(w, s, in.gram, AwqOptions{});
  bool clipped = false;
  for (float v : shrink) {
    EXPECT_GE(v, 0.5f);
    EXPECT_LE(v, 1.0f);
    clipped |= v < 1.0f;
  }
  EXPECT_TRUE(clipped);
  // The search minimises each group's own error; the cross-group terms it ignores are small here.
  const double e_rtn = output_error_from_gram(w, quantize_rtn(w, s).dequantize(), in.gram);
  const double e_clip = output_error_from_gram(w, quantize_rtn_clipped(w, s, shrink).dequantize(), in.gram);
  EXPECT_LT(e_clip, e_rtn);
}

}  // namespace
}  // namespace llmq
