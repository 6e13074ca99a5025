// The q/k row permutation: it round-trips, moves rows where llama.cpp's
// converter does, and (the reason for it) makes llama.cpp's adjacent-pair
// rope on the permuted rows give the attention scores of Hugging Face's
// half-split rope on the original rows.
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "export/gguf/llama3_rope_factors.h"
#include "export/gguf/rope_permutation.h"
#include "model/rope.h"

using namespace llmq;

TEST(RopePermutation, RoundTripsAndMovesRowsLikeTheConverter) {
  const int64_t heads = 3, hd = 8, cols = 5;
  std::vector<float> w(size_t(heads * hd * cols)), p(w.size()), back(w.size());
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(i);
  permute_rope_rows(w.data(), p.data(), heads, hd, cols);
  // Converter: reshape(n_head, 2, hd/2, cols).swapaxes(1, 2): GGUF row 2i + j of a head = HF row j*hd/2 + i.
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < hd / 2; ++i)
      for (int64_t j = 0; j < 2; ++j)
        for (int64_t c = 0; c < cols; ++c)
          EXPECT_EQ(p[size_t(((h * hd) + 2 * i + j) * cols + c)], w[size_t(((h * hd) + j * hd / 2 + i) * cols + c)]);
  unpermute_rope_rows(p.data(), back.data(), heads, hd, cols);
  EXPECT_EQ(back, w);
}

TEST(RopePermutation, AdjacentPairRopeOnPermutedRowsEqualsHalfSplitRope) {
  const int64_t hd = 16;
  ModelConfig cfg;
  cfg.head_dim = hd;
  cfg.rope_theta = 10000.0;
  Rope rope(cfg);
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  std::vector<float> q(hd), k(hd);
  for (auto& x : q) x = nd(rng);
  for (auto& x : k) x = nd(rng);
  // Hugging Face: rotate (x[i], x[i + hd/2]).
  std::vector<float> q_hf = q, k_hf = k;
  rope.apply(q_hf.data(), 1, 1, 7);
  rope.apply(k_hf.data(), 1, 1, 3);
  double score_hf = 0;
  for (int64_t i = 0; i < hd; ++i) score_hf += double(q_hf[i]) * k_hf[i];
  // llama.cpp's normal rope on permuted vectors: rotate (x[2i], x[2i + 1]).
  std::vector<float> qp(hd), kp(hd);
  permute_rope_rows(q.data(), qp.data(), 1, hd, 1);
  permute_rope_rows(k.data(), kp.data(), 1, hd, 1);
  auto rope_adjacent = [&](std::vector<float>& x, float pos) {
    for (int64_t i = 0; i < hd / 2; ++i) {
      const float ang = pos * float(rope.inv_freq()[size_t(i)]);
      const float a = x[size_t(2 * i)], b = x[size_t(2 * i + 1)];
      x[size_t(2 * i)] = a * std::cos(ang) - b * std::sin(ang);
      x[size_t(2 * i + 1)] = b * std::cos(ang) + a * std::sin(ang);
    }
  };
  rope_adjacent(qp, 7);
  rope_adjacent(kp, 3);
  double score_gguf = 0;
  for (int64_t i = 0; i < hd; ++i) score_gguf += double(qp[i]) * kp[i];
  EXPECT_NEAR(score_gguf, score_hf, 1e-5 * std::abs(score_hf) + 1e-6);
}

TEST(Llama3RopeFactors, RecoveredScalingReproducesTheFrequencies) {
  // Llama 3.1's scaling: factor 8, low 1, high 4, original context 8192, theta 500000, head_dim 128.
  ModelConfig cfg;
  cfg.head_dim = 128;
  cfg.rope_theta = 500000.0;
  cfg.rope_scaling.type = "llama3";
  cfg.rope_scaling.factor = 8.0;
  cfg.rope_scaling.low_freq_factor = 1.0;
  cfg.rope_scaling.high_freq_factor = 4.0;
  cfg.rope_scaling.original_max_position = 8192;
  const std::vector<float> factors = llama3_rope_freq_factors(cfg);
  ASSERT_EQ(factors.size(), 64u);
  EXPECT_EQ(factors.front(), 1.0f);
  EXPECT_EQ(factors.back(), 8.0f);
  // Divisor times scaled frequency gives back the unscaled one.
  Rope scaled(cfg);
  ModelConfig plain = cfg;
  plain.rope_scaling = RopeScaling{};
  Rope unscaled(plain);
  for (size_t i = 0; i < 64; ++i)
    EXPECT_NEAR(scaled.inv_freq()[i] * factors[i], unscaled.inv_freq()[i], 1e-6 * unscaled.inv_freq()[i]) << i;

  ModelConfig back = cfg;
  back.rope_scaling = llama3_scaling_from_factors(factors, cfg.rope_theta, cfg.head_dim, 8192);
  EXPECT_EQ(back.rope_scaling.type, "llama3");
  EXPECT_NEAR(back.rope_scaling.factor, 8.0, 1e-6);
  EXPECT_NEAR(back.rope_scaling.low_freq_factor, 1.0, 1e-3);
  EXPECT_NEAR(back.rope_scaling.high_freq_factor, 4.0, 1e-3);
  Rope rebuilt(back);
  for (size_t i = 0; i < 64; ++i) EXPECT_NEAR(rebuilt.inv_freq()[i], scaled.inv_freq()[i], 1e-6 * scaled.inv_freq()[i]);
}
