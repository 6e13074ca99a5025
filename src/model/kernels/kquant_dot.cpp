#include "model/kernels/kquant_dot.h"

#include "quant/formats/ggml/kquant_blocks.h"
#include "quant/formats/ggml/legacy_blocks.h"
#include "util/error.h"
#include "util/half.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define LLMQ_KQ_AVX2 1
#endif

namespace llmq::kernels {

using ggml::kquant::BlockQ2K;
using ggml::kquant::BlockQ3K;
using ggml::kquant::BlockQ4K;
using ggml::kquant::BlockQ5K;
using ggml::kquant::BlockQ6K;
using ggml::legacy::BlockQ8_0;
using ggml::kquant::BlockQ8K;
using ggml::GgmlType;

namespace {

// The 8 six-bit scales and mins of a Q4_K or Q5_K block.
void k4_scales(const uint8_t* packed, int sc[8], int m[8]) {
  for (int j = 0; j < 8; ++j) ggml::kquant::unpack_scale_min_k4(packed, j, sc[j], m[j]);
}

// The mins' part: sum_j m_j * (sum of the 32 activation levels of sub-block j).
int q4k_min_sum(const int m[8], const BlockQ8K& y) {
  int s = 0;
  for (int j = 0; j < 8; ++j) s += m[j] * (y.bsums[2 * j] + y.bsums[2 * j + 1]);
  return s;
}

// The -32 offset of Q6_K levels: sum_g scale_g * 32 * (sum of group g's activation levels).
int q6k_offset_sum(const BlockQ6K& b, const BlockQ8K& y) {
  int s = 0;
  for (int g = 0; g < 16; ++g) s += b.scales[g] * y.bsums[g];
  return 32 * s;
}

// Q4_K and Q5_K share scales, mins and the nibble layout; Q5_K adds a fifth
// bit per value, qh[l] bit j for sub-block j.
template <typename Block, bool kFifthBit>
float k4_family_portable(const Block* x, const BlockQ8K* y, int64_t nb) {
  float sum = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    int sc[8], m[8];
    k4_scales(x[b].scales, sc, m);
    int sumi = 0;
    for (int j = 0; j < 8; ++j) {
      const uint8_t* qs = x[b].qs + 32 * (j / 2);
      int s = 0;
      for (int l = 0; l < 32; ++l) {
        int q = (qs[l] >> (4 * (j % 2))) & 15;
        if constexpr (kFifthBit) q |= ((x[b].qh[l] >> j) & 1) << 4;
        s += q * y[b].qs[32 * j + l];
      }
      sumi += sc[j] * s;
    }
    sum += y[b].d * (f16_to_f32(x[b].d) * float(sumi) - f16_to_f32(x[b].dmin) * float(q4k_min_sum(m, y[b])));
  }
  return sum;
}

// The 2-bit level of value v (Q2_K quants, Q3_K low bits): in each half of
// 128 values, byte 32h+l holds values 128h+l+32k at bit offset 2k.
inline int level2(const uint8_t* qs, int v) { return (qs[32 * (v / 128) + v % 32] >> (2 * ((v % 128) / 32))) & 3; }

// Q2_K: 16 sub-blocks of 16, unsigned 2-bit levels, 4-bit scales and mins
// (the mins' part from the activations' sums per 16 values).
float q2k_portable(const BlockQ2K* x, const BlockQ8K* y, int64_t nb) {
  float sum = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    int sumi = 0, mins = 0;
    for (int j = 0; j < 16; ++j) {
      int s = 0;
      for (int v = 16 * j; v < 16 * j + 16; ++v) s += level2(x[b].qs, v) * y[b].qs[v];
      sumi += (x[b].scales[j] & 15) * s;
      mins += (x[b].scales[j] >> 4) * y[b].bsums[j];
    }
    sum += y[b].d * (f16_to_f32(x[b].d) * float(sumi) - f16_to_f32(x[b].dmin) * float(mins));
  }
  return sum;
}

// The -4 offset of Q3_K levels: sum_j scale_j * 4 * (sum of sub-block j's activation levels).
int q3k_offset_sum(const BlockQ3K& b, const BlockQ8K& y) {
  int s = 0;
  for (int j = 0; j < 16; ++j) s += ggml::kquant::unpack_q3_scale(b.scales, j) * y.bsums[j];
  return 4 * s;
}

// Q3_K: levels 0..7 (two low bits and hmask's high bit) minus 4, signed
// 6-bit scales per 16 values.
float q3k_portable(const BlockQ3K* x, const BlockQ8K* y, int64_t nb) {
  float sum = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      int s = 0;
      for (int v = 16 * j; v < 16 * j + 16; ++v)
        s += (level2(x[b].qs, v) | (((x[b].hmask[v % 32] >> (v / 32)) & 1) << 2)) * y[b].qs[v];
      sumi += ggml::kquant::unpack_q3_scale(x[b].scales, j) * s;
    }
    sum += f16_to_f32(x[b].d) * y[b].d * float(sumi - q3k_offset_sum(x[b], y[b]));
  }
  return sum;
}

// Q8_0: blocks of 32 with an f16 scale; eight of them per Q8_K block.
float q8_0_portable(const BlockQ8_0* x, const BlockQ8K* y, int64_t nb) {
  float sum = 0.0f;
  for (int64_t b = 0; b < nb; ++b)
    for (int k = 0; k < 8; ++k) {
      const BlockQ8_0& w = x[8 * b + k];
      int s = 0;
      for (int l = 0; l < 32; ++l) s += w.qs[l] * y[b].qs[32 * k + l];
      sum += f16_to_f32(w.d) * y[b].d * float(s);
    }
  return sum;
}

float q6k_portable(const BlockQ6K* x, const BlockQ8K* y, int64_t nb) {
  float sum = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    int sumi = 0;
    for (int h = 0; h < 2; ++h)
      for (int k = 0; k < 4; ++k) {
        const uint8_t* ql = x[b].ql + 64 * h + 32 * (k & 1);
        const uint8_t* qh = x[b].qh + 32 * h;
        const int8_t* yq = y[b].qs + 128 * h + 32 * k;
        for (int half = 0; half < 2; ++half) {
          int s = 0;
          for (int l = 16 * half; l < 16 * half + 16; ++l)
            s += (((ql[l] >> (4 * (k >> 1))) & 15) | (((qh[l] >> (2 * k)) & 3) << 4)) * yq[l];
          sumi += x[b].scales[8 * h + 2 * k + half] * s;
        }
      }
    sum += f16_to_f32(x[b].d) * y[b].d * float(sumi - q6k_offset_sum(x[b], y[b]));
  }
  return sum;
}

#ifdef LLMQ_KQ_AVX2
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// maddubs multiplies unsigned weight levels by signed activation levels and
// adds pairs into 16-bit lanes (at most 2 * 63 * 128: no saturation for
// 6-bit levels); madd by the scales then widens to 32 bits.
template <typename Block, bool kFifthBit>
float k4_family_avx2(const Block* x, const BlockQ8K* y, int64_t nb) {
  const __m256i low4 = _mm256_set1_epi8(15), bit = _mm256_set1_epi8(1);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    int sc[8], m[8];
    k4_scales(x[b].scales, sc, m);
    __m256i sumi = _mm256_setzero_si256();
    for (int p = 0; p < 4; ++p) {  // 32 bytes: sub-block 2p in the low nibbles, 2p+1 in the high
      const __m256i q = load32(x[b].qs + 32 * p);
      __m256i lo = _mm256_and_si256(q, low4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
      if constexpr (kFifthBit) {
        const __m256i qh = load32(x[b].qh);
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * p), bit), 4));
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * p + 1), bit), 4));
      }
      const __m256i p0 = _mm256_maddubs_epi16(lo, load32(y[b].qs + 64 * p));
      const __m256i p1 = _mm256_maddubs_epi16(hi, load32(y[b].qs + 64 * p + 32));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p0, _mm256_set1_epi16(int16_t(sc[2 * p]))));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p1, _mm256_set1_epi16(int16_t(sc[2 * p + 1]))));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(y[b].d * f16_to_f32(x[b].d)), _mm256_cvtepi32_ps(sumi), acc);
    mins += y[b].d * f16_to_f32(x[b].dmin) * float(q4k_min_sum(m, y[b]));
  }
  return hsum(acc) - mins;
}

// Per 32 values (half h, plane k): two sub-blocks of 16, whose scales go to
// the two 128-bit lanes of the madd.
inline __m256i lane_scales(int lo, int hi) {
  return _mm256_set_m128i(_mm_set1_epi16(int16_t(hi)), _mm_set1_epi16(int16_t(lo)));
}

float q2k_avx2(const BlockQ2K* x, const BlockQ8K* y, int64_t nb) {
  const __m256i low2 = _mm256_set1_epi8(3);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    __m256i sumi = _mm256_setzero_si256();
    int m = 0;
    for (int h = 0; h < 2; ++h) {
      const __m256i q = load32(x[b].qs + 32 * h);
      for (int k = 0; k < 4; ++k) {
        const __m256i lv = _mm256_and_si256(_mm256_srli_epi16(q, 2 * k), low2);
        const __m256i prod = _mm256_maddubs_epi16(lv, load32(y[b].qs + 128 * h + 32 * k));
        const int j = 8 * h + 2 * k;
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(prod, lane_scales(x[b].scales[j] & 15, x[b].scales[j + 1] & 15)));
      }
    }
    for (int j = 0; j < 16; ++j) m += (x[b].scales[j] >> 4) * y[b].bsums[j];
    acc = _mm256_fmadd_ps(_mm256_set1_ps(y[b].d * f16_to_f32(x[b].d)), _mm256_cvtepi32_ps(sumi), acc);
    mins += y[b].d * f16_to_f32(x[b].dmin) * float(m);
  }
  return hsum(acc) - mins;
}

float q3k_avx2(const BlockQ3K* x, const BlockQ8K* y, int64_t nb) {
  const __m256i low2 = _mm256_set1_epi8(3), bit = _mm256_set1_epi8(1);
  __m256 acc = _mm256_setzero_ps();
  float offsets = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    int sc[16];
    for (int j = 0; j < 16; ++j) sc[j] = ggml::kquant::unpack_q3_scale(x[b].scales, j);
    const __m256i hm = load32(x[b].hmask);
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i q = load32(x[b].qs + 32 * h);
      for (int k = 0; k < 4; ++k) {
        const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(q, 2 * k), low2);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + k), bit);
        const __m256i lv = _mm256_or_si256(lo, _mm256_slli_epi16(hi, 2));
        const __m256i prod = _mm256_maddubs_epi16(lv, load32(y[b].qs + 128 * h + 32 * k));
        const int j = 8 * h + 2 * k;
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(prod, lane_scales(sc[j], sc[j + 1])));
      }
    }
    int off = 0;
    for (int j = 0; j < 16; ++j) off += sc[j] * y[b].bsums[j];
    const float d = f16_to_f32(x[b].d) * y[b].d;
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    offsets += d * float(4 * off);
  }
  return hsum(acc) - offsets;
}

// Signed bytes: maddubs wants its first operand unsigned, so it gets |w| and
// the activations take w's sign.
float q8_0_avx2(const BlockQ8_0* x, const BlockQ8K* y, int64_t nb) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b)
    for (int k = 0; k < 8; ++k) {
      const BlockQ8_0& w = x[8 * b + k];
      const __m256i q = load32(w.qs), a = load32(y[b].qs + 32 * k);
      const __m256i prod = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(a, q));
      acc = _mm256_fmadd_ps(_mm256_set1_ps(f16_to_f32(w.d) * y[b].d), _mm256_cvtepi32_ps(_mm256_madd_epi16(prod, ones)),
                            acc);
    }
  return hsum(acc);
}

float q6k_avx2(const BlockQ6K* x, const BlockQ8K* y, int64_t nb) {
  const __m256i low4 = _mm256_set1_epi8(15), low2 = _mm256_set1_epi8(3);
  __m256 acc = _mm256_setzero_ps();
  float offsets = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i qh = load32(x[b].qh + 32 * h);
      for (int k = 0; k < 4; ++k) {  // 32 consecutive values, two scale groups of 16
        __m256i lo = load32(x[b].ql + 64 * h + 32 * (k & 1));
        if (k >> 1) lo = _mm256_srli_epi16(lo, 4);
        lo = _mm256_and_si256(lo, low4);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), low2);
        const __m256i q = _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
        const __m256i prod = _mm256_maddubs_epi16(q, load32(y[b].qs + 128 * h + 32 * k));
        const int g = 8 * h + 2 * k;
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(prod, lane_scales(x[b].scales[g], x[b].scales[g + 1])));
      }
    }
    const float d = f16_to_f32(x[b].d) * y[b].d;
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    offsets += d * float(q6k_offset_sum(x[b], y[b]));
  }
  return hsum(acc) - offsets;
}
#endif

}  // namespace

bool has_q8k_dot(GgmlType type) {
  return type == GgmlType::Q2_K || type == GgmlType::Q3_K || type == GgmlType::Q4_K || type == GgmlType::Q5_K ||
         type == GgmlType::Q6_K || type == GgmlType::Q8_0;
}

float dot_q8k_portable(GgmlType type, const void* w, const void* x, int64_t blocks) {
  const auto* y = static_cast<const BlockQ8K*>(x);
  switch (type) {
    case GgmlType::Q2_K: return q2k_portable(static_cast<const BlockQ2K*>(w), y, blocks);
    case GgmlType::Q3_K: return q3k_portable(static_cast<const BlockQ3K*>(w), y, blocks);
    case GgmlType::Q4_K: return k4_family_portable<BlockQ4K, false>(static_cast<const BlockQ4K*>(w), y, blocks);
    case GgmlType::Q5_K: return k4_family_portable<BlockQ5K, true>(static_cast<const BlockQ5K*>(w), y, blocks);
    case GgmlType::Q6_K: return q6k_portable(static_cast<const BlockQ6K*>(w), y, blocks);
    case GgmlType::Q8_0: return q8_0_portable(static_cast<const BlockQ8_0*>(w), y, blocks);
    default: fail("no Q8_K dot product for {}", ggml::type_name(type));
  }
}

float dot_q8k(GgmlType type, const void* w, const void* x, int64_t blocks) {
#ifdef LLMQ_KQ_AVX2
  const auto* y = static_cast<const BlockQ8K*>(x);
  switch (type) {
    case GgmlType::Q2_K: return q2k_avx2(static_cast<const BlockQ2K*>(w), y, blocks);
    case GgmlType::Q3_K: return q3k_avx2(static_cast<const BlockQ3K*>(w), y, blocks);
    case GgmlType::Q4_K: return k4_family_avx2<BlockQ4K, false>(static_cast<const BlockQ4K*>(w), y, blocks);
    case GgmlType::Q5_K: return k4_family_avx2<BlockQ5K, true>(static_cast<const BlockQ5K*>(w), y, blocks);
    case GgmlType::Q6_K: return q6k_avx2(static_cast<const BlockQ6K*>(w), y, blocks);
    case GgmlType::Q8_0: return q8_0_avx2(static_cast<const BlockQ8_0*>(w), y, blocks);
    default: break;
  }
#endif
  return dot_q8k_portable(type, w, x, blocks);
}

}  // namespace llmq::kernels
