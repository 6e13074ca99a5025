#include "model/kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <cblas.h>

#include "model/kernels/dot_kernels.h"
#include "model/ops.h"
#include "runtime/deterministic_gemm.h"

namespace llmq::kernels {

namespace {

// Decode and short batches: one thread per (head, block of queries), each
// query's scores in a row buffer of the thread; a BLAS call per head would
// cost more than these few dot products.
void attention_by_rows(const float* Q, const float* K, const float* V, float* out, int64_t T, int64_t pos0,
                       int64_t n_heads, int64_t n_kv_heads, int64_t head_dim) {
  const int64_t qd = n_heads * head_dim, kvd = n_kv_heads * head_dim, group = n_heads / n_kv_heads;
  const float scale = 1.0f / std::sqrt(float(head_dim));
  constexpr int64_t kQueries = 4;  // a head's keys and values stay in cache while a block reads them
  const int64_t q_blocks = (T + kQueries - 1) / kQueries;
#pragma omp parallel for collapse(2) schedule(dynamic, 1) if (n_heads * q_blocks > 1)
  for (int64_t head = 0; head < n_heads; ++head)
    for (int64_t qb = 0; qb < q_blocks; ++qb) {
      thread_local std::vector<float> scores;
      scores.resize(size_t(pos0 + T));
      const float* Kh = K + (head / group) * head_dim;
      const float* Vh = V + (head / group) * head_dim;
      for (int64_t t = qb * kQueries; t < std::min(T, (qb + 1) * kQueries); ++t) {
        const float* q = Q + t * qd + head * head_dim;
        const int64_t visible = pos0 + t + 1;  // causal: keys up to this query's position
        for (int64_t j = 0; j < visible; ++j) scores[size_t(j)] = scale * dot_f32(q, Kh + j * kvd, head_dim);
        ops::softmax(scores.data(), visible);
        float* o = out + t * qd + head * head_dim;
        std::fill(o, o + head_dim, 0.0f);
        for (int64_t j = 0; j < visible; ++j) {
          const float p = scores[size_t(j)];
          const float* v = Vh + j * kvd;
#pragma omp simd
          for (int64_t d = 0; d < head_dim; ++d) o[d] += p * v[d];
        }
      }
    }
}

// Prefill: per head, blocks of queries as two matrix products (scores, then
// scores times values) on a [block, visible keys] tile, so that memory is
// one tile per thread, not a [T, T] matrix per head. Each (head, block) is a
// task of one thread whose products run single-threaded: the bits do not
// depend on the thread count (runtime/deterministic_gemm.h says why that matters).
void attention_by_tiles(const float* Q, const float* K, const float* V, float* out, int64_t T, int64_t pos0,
                        int64_t n_heads, int64_t n_kv_heads, int64_t head_dim) {
  const int64_t qd = n_heads * head_dim, kvd = n_kv_heads * head_dim, group = n_heads / n_kv_heads;
  const float scale = 1.0f / std::sqrt(float(head_dim));
  constexpr int64_t kQueries = 256;
  const int64_t n_blocks = (T + kQueries - 1) / kQueries;
  const runtime::OneBlasThreadPerCall one_thread;
#pragma omp parallel
  {
    std::vector<float> S(size_t(std::min(T, kQueries) * (pos0 + T)));
#pragma omp for schedule(dynamic, 1) collapse(2)
    for (int64_t head = 0; head < n_heads; ++head)
      for (int64_t qb = 0; qb < n_blocks; ++qb) {
        const float* Kh = K + (head / group) * head_dim;
        const float* Vh = V + (head / group) * head_dim;
        const int64_t t0 = qb * kQueries;
        const int64_t rows = std::min(kQueries, T - t0), keys = pos0 + t0 + rows;  // keys the block's last query sees
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rows), int(keys), int(head_dim), scale,
                    Q + t0 * qd + head * head_dim, int(qd), Kh, int(kvd), 0.0f, S.data(), int(keys));
        for (int64_t i = 0; i < rows; ++i) {
          float* row = S.data() + i * keys;
          const int64_t visible = pos0 + t0 + i + 1;
          ops::softmax(row, visible);
          std::fill(row + visible, row + keys, 0.0f);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), int(head_dim), int(keys), 1.0f, S.data(),
                    int(keys), Vh, int(kvd), 0.0f, out + t0 * qd + head * head_dim, int(qd));
      }
  }
}

}  // namespace

void causal_attention(const float* Q, const float* K, const float* V, float* out, int64_t T, int64_t pos0,
                      int64_t n_heads, int64_t n_kv_heads, int64_t head_dim) {
  if (T < 16) attention_by_rows(Q, K, V, out, T, pos0, n_heads, n_kv_heads, head_dim);
  else attention_by_tiles(Q, K, V, out, T, pos0, n_heads, n_kv_heads, head_dim);
}

}  // namespace llmq::kernels
