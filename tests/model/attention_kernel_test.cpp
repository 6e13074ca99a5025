// Causal attention against a naive double-precision implementation: grouped
// KV heads, queries that start after cached positions, one query (decode).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/random_values.h"
#include "model/kernels/attention.h"

using llmq::test::gaussian_values;

TEST(AttentionKernel, MatchesNaiveCausalSoftmax) {
  struct Shape {
    int64_t T, pos0, heads, kv_heads, hd;
  };
  for (const Shape& s : {Shape{37, 0, 4, 2, 16}, Shape{20, 13, 6, 3, 8}, Shape{300, 4, 2, 1, 16}, Shape{9, 3, 4, 2, 8}, Shape{1, 50, 4, 1, 32}, Shape{5, 0, 2, 2, 7}}) {
    const int64_t Tk = s.pos0 + s.T, qd = s.heads * s.hd, kvd = s.kv_heads * s.hd;
    const std::vector<float> Q = gaussian_values(size_t(s.T * qd), 1), K = gaussian_values(size_t(Tk * kvd), 2),
                             V = gaussian_values(size_t(Tk * kvd), 3);
    std::vector<float> out(size_t(s.T * qd), -1.0f);
    llmq::kernels::causal_attention(Q.data(), K.data(), V.data(), out.data(), s.T, s.pos0, s.heads, s.kv_heads, s.hd);
    const int64_t group = s.heads / s.kv_heads;
    for (int64_t t = 0; t < s.T; ++t)
      for (int64_t h = 0; h < s.heads; ++h) {
        const int64_t kvh = h / group, visible = s.pos0 + t + 1;
        std::vector<double> p(static_cast<size_t>(visible));
        double mx = -1e300, sum = 0;
        for (int64_t j = 0; j < visible; ++j) {
          double d = 0;
          for (int64_t i = 0; i < s.hd; ++i) d += double(Q[size_t(t * qd + h * s.hd + i)]) * K[size_t(j * kvd + kvh * s.hd + i)];
          p[size_t(j)] = d / std::sqrt(double(s.hd));
          mx = std::max(mx, p[size_t(j)]);
        }
        for (double& x : p) sum += (x = std::exp(x - mx));
        for (int64_t i = 0; i < s.hd; ++i) {
          double want = 0;
          for (int64_t j = 0; j < visible; ++j) want += p[size_t(j)] / sum * V[size_t(j * kvd + kvh * s.hd + i)];
          EXPECT_NEAR(out[size_t(t * qd + h * s.hd + i)], want, 1e-5) << "T " << s.T << " t " << t << " head " << h;
        }
      }
  }
}
