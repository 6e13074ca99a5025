#include "model/kernels/dot_kernels.h"

#include <cstring>

#include "util/half.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define LLMQ_DOT_AVX2 1
#endif

namespace llmq::kernels {

namespace {

#ifdef LLMQ_DOT_AVX2
// 8 stored values as 8 fp32 lanes.
inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const uint16_t* p, RowType type) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if (type == RowType::F16) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));  // bf16: the high half of an fp32
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Four accumulators of 8 lanes: 32 values per step hide the FMA latency.
// Returns the sum over the first `done` values (a multiple of 8).
template <typename Load>
float dot_avx2(Load load, const float* x, int64_t n, int64_t& done) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_fmadd_ps(load(i), load8(x + i), a0);
    a1 = _mm256_fmadd_ps(load(i + 8), load8(x + i + 8), a1);
    a2 = _mm256_fmadd_ps(load(i + 16), load8(x + i + 16), a2);
    a3 = _mm256_fmadd_ps(load(i + 24), load8(x + i + 24), a3);
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(load(i), load8(x + i), a0);
  done = i;
  return hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}
#endif

float value(RowType type, const void* w, int64_t i) {
  switch (type) {
    case RowType::F32: return static_cast<const float*>(w)[i];
    case RowType::F16: return f16_to_f32(static_cast<const uint16_t*>(w)[i]);
    case RowType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(w)[i]);
  }
  return 0.0f;
}

// The portable loop, and the tail past the last full vector.
float dot_scalar(RowType type, const void* w, const float* x, int64_t from, int64_t n) {
  float s[4] = {0, 0, 0, 0};
  int64_t i = from;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; ++k) s[k] += value(type, w, i + k) * x[i + k];
  for (; i < n; ++i) s[0] += value(type, w, i) * x[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

float dot_row(RowType type, const void* w, const float* x, int64_t n) {
#ifdef LLMQ_DOT_AVX2
  int64_t done = 0;
  float s;
  if (type == RowType::F32) {
    const float* p = static_cast<const float*>(w);
    s = dot_avx2([p](int64_t i) { return load8(p + i); }, x, n, done);
  } else {
    const uint16_t* p = static_cast<const uint16_t*>(w);
    s = type == RowType::F16 ? dot_avx2([p](int64_t i) { return load8(p + i, RowType::F16); }, x, n, done)
                             : dot_avx2([p](int64_t i) { return load8(p + i, RowType::BF16); }, x, n, done);
  }
  return s + dot_scalar(type, w, x, done, n);
#else
  return dot_scalar(type, w, x, 0, n);
#endif
}

size_t value_bytes(RowType type) { return type == RowType::F32 ? 4 : 2; }

}  // namespace

float dot_f32(const float* a, const float* b, int64_t n) { return dot_row(RowType::F32, a, b, n); }

void dot_rows(RowType type, const void* W, int64_t n_rows, int64_t cols, const float* X, int64_t T, float* Y,
              int64_t ldy) {
  const auto* base = static_cast<const uint8_t*>(W);
  const size_t row_bytes = size_t(cols) * value_bytes(type);
  for (int64_t r = 0; r < n_rows; ++r)
    for (int64_t t = 0; t < T; ++t) Y[t * ldy + r] = dot_row(type, base + size_t(r) * row_bytes, X + t * cols, cols);
}

}  // namespace llmq::kernels
