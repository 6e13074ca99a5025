// Group grids, dequantization of a hand-built group, RTN error bounds, the
// Hessian factorization's fallback, and GPTQ against RTN on synthetic layers.
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "quant/methods/gptq.h"
#include "quant/methods/hessian_inverse.h"
#include "quant/methods/rtn.h"
#include "util/error.h"
#include "util/half.h"

namespace llmq {
namespace {

IntQuantSpec spec(int bits, int64_t group, bool sym, ScaleStorage st = ScaleStorage::F32) {
  IntQuantSpec s;
  s.bits = bits;
  s.group_size = group;
  s.sym = sym;
  s.scale_storage = st;
  return s;
}

Tensor random_weight(int64_t rows, int64_t cols, uint32_t seed, float sd = 0.05f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> n(0.0f, sd);
  Tensor t;
  t.resize({rows, cols});
  for (float& v : t.data) v = n(g);
  return t;
}

TEST(IntqCore, AsymmetricGridOfAHandBuiltGroup) {
  // Range [-0.5, 1.0], 4 bits: scale = 1.5 / 15 = 0.1, zero = round(0.5 / 0.1) = 5.
  const GroupGrid g = fit_group_grid(-0.5f, 1.0f, spec(4, 32, false));
  EXPECT_FLOAT_EQ(g.scale, 0.1f);
  EXPECT_EQ(g.zero, 5);
  EXPECT_EQ(g.quantize(0.0f, 15), 5);
  EXPECT_EQ(g.quantize(1.0f, 15), 15);
  EXPECT_EQ(g.quantize(-0.5f, 15), 0);
  EXPECT_EQ(g.quantize(0.26f, 15), 8);   // 2.6 -> 3, + 5
  EXPECT_EQ(g.quantize(5.0f, 15), 15);   // clamped
  EXPECT_FLOAT_EQ(g.dequantize(8), 0.3f);
  EXPECT_FLOAT_EQ(g.dequantize(0), -0.5f);
}

TEST(IntqCore, SymmetricGridAndZeroMin) {
  // max|w| = 0.75 -> scale = 1.5 / 15 = 0.1, zero fixed at 8.
  const GroupGrid g = fit_group_grid(-0.75f, 0.3f, spec(4, 32, true));
  EXPECT_FLOAT_EQ(g.scale, 0.1f);
  EXPECT_EQ(g.zero, 8);
  // A group of positive weights has zero 0 asymmetric; GPTQ v1 cannot store that and asks for >= 1.
  IntQuantSpec s = spec(4, 32, false);
  EXPECT_EQ(fit_group_grid(0.2f, 1.5f, s).zero, 0);
  s.zero_min = 1;
  EXPECT_EQ(fit_group_grid(0.2f, 1.5f, s).zero, 1);
}

TEST(IntqCore, ScalesAreRoundedToTheirStorage) {
  const GroupGrid g = fit_group_grid(-1.0f, 1.0f / 3.0f, spec(4, 32, false, ScaleStorage::F16));
  // (1 + 1/3) / 15 = 0.08889, nearest fp16 is 1456 * 2^-14 = 0.0888672 (0x2DB0)
  EXPECT_EQ(g.scale, f16_to_f32(0x2DB0));
  EXPECT_NE(g.scale, (1.0f + 1.0f / 3.0f) / 15.0f);
}

TEST(IntqCore, DequantizeUsesGroupOfEachColumn) {
  QuantizedLinear q;
  q.init(1, 64, spec(4, 32, false));
  ASSERT_EQ(q.n_groups(), 2);
  q.set_grid(0, 0, {0.5f, 3});
  q.set_grid(0, 1, {0.25f, 10});
  for (int c = 0; c < 64; ++c) q.q[size_t(c)] = uint8_t(c % 16);
  const Tensor t = q.dequantize();
  EXPECT_FLOAT_EQ(t.data[5], 0.5f * (5 - 3));
  EXPECT_FLOAT_EQ(t.data[32 + 2], 0.25f * (2 - 10));
  q.g_idx[5] = 1;  // act order can put any column into any group
  EXPECT_FLOAT_EQ(q.dequantize().data[5], 0.25f * (5 - 10));
  EXPECT_FALSE(q.has_sequential_groups());
}

TEST(IntqCore, RtnErrorIsAtMostHalfAStep) {
  const Tensor w = random_weight(16, 256, 7);
  for (int bits : {2, 3, 4, 8})
    for (int64_t group : {32, 64, 128, -1})
      for (bool sym : {true, false}) {
        const IntQuantSpec s = spec(bits, group, sym);
        const QuantizedLinear q = quantize_rtn(w, s);
        const Tensor d = q.dequantize();
        for (int64_t r = 0; r < w.rows(); ++r)
          for (int64_t c = 0; c < w.cols(); ++c) {
            const GroupGrid g = q.grid(r, q.g_idx[size_t(c)]);
            // Inside the grid's range the error is at most half a step (symmetric grids clip one code at the top).
            const float lo = g.dequantize(0), hi = g.dequantize(s.maxq());
            const float x = w.data[size_t(r * w.cols() + c)];
            const float err = std::fabs(x - d.data[size_t(r * w.cols() + c)]);
            if (x >= lo && x <= hi) ASSERT_LE(err, 0.5f * g.scale * 1.0001f) << s.describe();
            else ASSERT_LE(err, g.scale * 1.0001f) << s.describe();
          }
      }
}

TEST(IntqCore, RejectsUnsupportedShapes) {
  const Tensor w = random_weight(4, 96, 1);
  EXPECT_THROW(quantize_rtn(w, spec(4, 64, true)), Error);  // 96 % 64 != 0
  EXPECT_THROW(quantize_rtn(w, spec(5, 32, true)), Error);
  EXPECT_THROW(quantize_rtn(w, spec(4, 48, true)), Error);
}

// Inputs driven by a few latent factors plus noise (as LLM activations are: strongly
// correlated channels), where GPTQ's error compensation has something to work with.
std::vector<double> correlated_gram(int64_t n, int64_t tokens, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<double> nd(0.0, 1.0);
  const int64_t k = 8;
  std::vector<double> mix(size_t(k * n));
  for (double& v : mix) v = nd(g);
  std::vector<double> x(size_t(tokens * n));
  for (int64_t t = 0; t < tokens; ++t) {
    double z[k];
    for (double& v : z) v = nd(g);
    for (int64_t c = 0; c < n; ++c) {
      double v = 0.1 * nd(g);
      for (int64_t j = 0; j < k; ++j) v += mix[size_t(j * n + c)] * z[j];
      x[size_t(t * n + c)] = v;
    }
  }
  std::vector<double> gram(size_t(n * n), 0.0);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) gram[size_t(i * n + j)] += x[size_t(t * n + i)] * x[size_t(t * n + j)];
  return gram;
}

TEST(Gptq, LowerOutputErrorThanRtn) {
  const int64_t n = 128;
  const Tensor w = random_weight(64, n, 3);
  const std::vector<double> gram = correlated_gram(n, 512, 11);
  for (const IntQuantSpec& s : {spec(4, 32, true), spec(3, -1, false), spec(4, 128, false)}) {
    const double e_rtn = output_error_from_gram(w, quantize_rtn(w, s).dequantize(), gram);
    for (bool act : {false, true}) {
      GptqOptions o;
      o.desc_act = act;
      o.block_size = 32;
      GptqStats st;
      const QuantizedLinear q = gptq_quantize(w, gram, s, o, &st);
      const double e = output_error_from_gram(w, q.dequantize(), gram);
      EXPECT_LT(e, 0.5 * e_rtn) << s.describe() << " act=" << act;
      EXPECT_TRUE(st.warning.empty());
      EXPECT_EQ(q.has_sequential_groups(), !act || s.group_size < 0 || s.group_size >= n) << s.describe();
    }
  }
}

TEST(Gptq, WeightedGridSearchLowersTheErrorAtThreeBits) {
  // Heavy-tailed weights (a few large values per group) are where min-max grids waste levels.
  const int64_t n = 128;
  Tensor w = random_weight(96, n, 21);
  std::mt19937 g(22);
  std::uniform_int_distribution<int64_t> pick(0, int64_t(w.data.size()) - 1);
  for (int i = 0; i < 200; ++i) w.data[size_t(pick(g))] *= 4.0f;
  const std::vector<double> gram = correlated_gram(n, 512, 23);
  for (bool act : {false, true}) {
    GptqOptions plain, searched;
    plain.clip_search = false;
    plain.desc_act = searched.desc_act = act;
    const double e_plain = output_error_from_gram(w, gptq_quantize(w, gram, spec(3, 32, true), plain).dequantize(), gram);
    const double e_search = output_error_from_gram(w, gptq_quantize(w, gram, spec(3, 32, true), searched).dequantize(), gram);
    EXPECT_LT(e_search, 0.95 * e_plain) << "act order " << act;
  }
  // Static groups fix their grids before any update: min-max, whatever clip_search says.
  GptqOptions st;
  st.desc_act = st.static_groups = true;
  GptqOptions st_plain = st;
  st_plain.clip_search = false;
  EXPECT_EQ(gptq_quantize(w, gram, spec(3, 32, true), st).q, gptq_quantize(w, gram, spec(3, 32, true), st_plain).q);
  // Without a usable Hessian there is nothing to weight by: the grids stay min-max (GPTQ falls back to RTN).
  std::vector<double> bad(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) bad[size_t(i * n + i)] = 1.0;
  bad[7 * n + 7] = std::nan("");
  EXPECT_EQ(gptq_quantize(w, bad, spec(3, 32, true)).q, quantize_rtn(w, spec(3, 32, true)).q);
}

TEST(Gptq, StaticGroupsKeepSequentialGIdxUnderActOrder) {
  const int64_t n = 128;
  const Tensor w = random_weight(32, n, 5);
  const std::vector<double> gram = correlated_gram(n, 300, 2);
  GptqOptions o;
  o.desc_act = true;
  o.static_groups = true;
  const QuantizedLinear q = gptq_quantize(w, gram, spec(4, 32, true), o);
  EXPECT_TRUE(q.has_sequential_groups());
  const double e_rtn = output_error_from_gram(w, quantize_rtn(w, spec(4, 32, true)).dequantize(), gram);
  EXPECT_LT(output_error_from_gram(w, q.dequantize(), gram), e_rtn);
}

TEST(Gptq, HessianInverseFactorIsTheUpperCholeskyOfTheInverse) {
  // U upper with a positive diagonal and U^T U (H + lambda I) = I: the unique factor GPTQ needs.
  const int64_t n = 48;
  const std::vector<double> h = correlated_gram(n, 200, 7);
  double mean_diag = 0;
  for (int64_t i = 0; i < n; ++i) mean_diag += h[size_t(i * n + i)] / double(n);
  const HessianInverseResult r = hessian_inverse_cholesky(h, n, 0.01);
  ASSERT_EQ(r.retries, 0);
  const std::vector<float>& u = r.upper;
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_GT(u[size_t(i * n + i)], 0.0f);
    for (int64_t j = 0; j < i; ++j) EXPECT_EQ(u[size_t(i * n + j)], 0.0f);
  }
  double worst = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double v = 0;  // (U^T U (H + lambda I))_ij
      for (int64_t k = 0; k < n; ++k) {
        double utu = 0;
        for (int64_t p = 0; p <= std::min(i, k); ++p) utu += double(u[size_t(p * n + i)]) * u[size_t(p * n + k)];
        v += utu * (h[size_t(k * n + j)] + (k == j ? 0.01 * mean_diag : 0.0));
      }
      worst = std::max(worst, std::fabs(v - (i == j ? 1.0 : 0.0)));
    }
  EXPECT_LT(worst, 1e-4);
}

TEST(Gptq, SingularHessianFallsBackWithAWarning) {
  // A Hessian with a negative eigenvalue (not PSD) cannot be factored at 1% dampening.
  const int64_t n = 32;
  std::vector<double> h(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) h[size_t(i * n + i)] = 1.0;
  h[0 * n + 1] = h[1 * n + 0] = 3.0;  // [[1,3],[3,1]] block: eigenvalue -2
  const HessianInverseResult r = hessian_inverse_cholesky(h, n, 0.01);
  EXPECT_GT(r.retries, 0);
  EXPECT_GT(r.damp_percent, 0.01);
  EXPECT_FALSE(r.identity_fallback);
  EXPECT_FALSE(r.warning.empty());

  const Tensor w = random_weight(8, n, 9);
  GptqStats st;
  const QuantizedLinear q = gptq_quantize(w, h, spec(4, 32, true), {}, &st);
  EXPECT_FALSE(st.warning.empty());
  EXPECT_GT(st.damp_percent, 0.01);
  for (float v : q.dequantize().data) EXPECT_TRUE(std::isfinite(v));

  // Non-finite statistics never factor: GPTQ degrades to RTN instead of failing.
  std::vector<double> bad(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) bad[size_t(i * n + i)] = 1.0;
  bad[3 * n + 3] = std::nan("");
  const QuantizedLinear q2 = gptq_quantize(w, bad, spec(4, 32, true), {}, &st);
  EXPECT_TRUE(st.rtn_fallback);
  EXPECT_EQ(q2.q, quantize_rtn(w, spec(4, 32, true)).q);
}

TEST(Gptq, ZeroHessianColumnsAreDead) {
  const int64_t n = 64;
  std::vector<double> h = correlated_gram(n, 200, 4);
  for (int64_t j = 0; j < n; ++j) h[size_t(5 * n + j)] = h[size_t(j * n + 5)] = 0.0;
  GptqStats st;
  gptq_quantize(random_weight(8, n, 1), h, spec(4, 32, true), {}, &st);
  EXPECT_EQ(st.dead_columns, 1);
  EXPECT_TRUE(st.warning.empty());
}

}  // namespace
}  // namespace llmq
