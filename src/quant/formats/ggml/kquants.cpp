// ggml's k-quant formats Q2_K..Q6_K and Q8_K: row quantisers and
// dequantisers. The byte layouts live in kquant_blocks.h, the scale fitting
// in kquant_fit.h / kquant_encode.h; this file ties them to each format.
#include <cmath>
#include <cstring>
#include <vector>

#include "quant/formats/ggml/ggml_quants.h"
#include "quant/formats/ggml/kquant_blocks.h"
#include "quant/formats/ggml/kquant_encode.h"
#include "quant/formats/ggml/kquant_formats.h"
#include "quant/formats/ggml/row_gain.h"
#include "util/error.h"
#include "util/half.h"

namespace llmq::ggml {

using namespace kquant;

namespace {

int64_t super_blocks(int64_t n, const char* type) {
  if (n % kSuperBlock != 0) fail("{}: row of {} values is not a multiple of {}", type, n, kSuperBlock);
  return n / kSuperBlock;
}

// At 2-3 bits the least-squares fit shrinks the row (row_gain.h): Q2_K keeps
// about 0.95 of its projection on small-llama. Scaling every super-block's
// d (and dmin, so the whole reconstruction scales) by the row's gain
// lowered the Q2_K preset's KL divergence there; from 4 bits on the gain is
// within a fraction of a percent of 1 and is not applied.
template <typename Block>
void apply_row_gain(const float* x, Block* y, int64_t n, const float* imatrix,
                    void (*dequantize)(const void*, float*, int64_t)) {
  std::vector<float> q(static_cast<size_t>(n));
  dequantize(y, q.data(), n);
  const float gain = row_gain(x, q.data(), n, imatrix);
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    y[b].d = scaled_f16(y[b].d, gain);
    if constexpr (requires { y[b].dmin; }) y[b].dmin = scaled_f16(y[b].dmin, gain);
  }
}

}  // namespace

// ================================ Q2_K ======================================
void quantize_row_q2_K(const float* x, void* vy, int64_t n, const float* imatrix) {
  auto* y = static_cast<BlockQ2K*>(vy);
  const int64_t nb = super_blocks(n, "q2_K");
  const float* row = x;
  float w[256];
  AffineCode c;
  for (int64_t b = 0; b < nb; ++b, x += 256) {
    error_weights(x, imatrix ? imatrix + 256 * b : nullptr, kQ2Spec.sub_size, w);
    encode_affine(x, w, kQ2Spec, c);
    store_q2_K(c, y[b]);
  }
  apply_row_gain(row, y, n, imatrix, dequantize_row_q2_K);
}

void dequantize_row_q2_K(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ2K*>(vx);
  const int64_t nb = super_blocks(n, "q2_K");
  for (int64_t b = 0; b < nb; ++b, y += 256) {
    const float d = f16_to_f32(x[b].d), dmin = f16_to_f32(x[b].dmin);
    for (int j = 0; j < 16; ++j) {
      const float scale = d * (x[b].scales[j] & 15), min = dmin * (x[b].scales[j] >> 4);
      for (int v = 16 * j; v < 16 * j + 16; ++v) y[v] = scale * unpack_2bit(x[b].qs, v) - min;
    }
  }
}

// ================================ Q3_K ======================================
void quantize_row_q3_K(const float* x, void* vy, int64_t n, const float* imatrix) {
  auto* y = static_cast<BlockQ3K*>(vy);
  const int64_t nb = super_blocks(n, "q3_K");
  const float* row = x;
  float w[256];
  SymmetricCode c;
  for (int64_t b = 0; b < nb; ++b, x += 256) {
    error_weights(x, imatrix ? imatrix + 256 * b : nullptr, kQ3Spec.sub_size, w);
    encode_symmetric(x, w, kQ3Spec, c);
    store_q3_K(c, y[b]);
  }
  apply_row_gain(row, y, n, imatrix, dequantize_row_q3_K);
}

void dequantize_row_q3_K(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ3K*>(vx);
  const int64_t nb = super_blocks(n, "q3_K");
  for (int64_t b = 0; b < nb; ++b, y += 256) {
    const float d = f16_to_f32(x[b].d);
    for (int j = 0; j < 16; ++j) {
      const float scale = d * unpack_q3_scale(x[b].scales, j);
      for (int v = 16 * j; v < 16 * j + 16; ++v) {
        const int high = (x[b].hmask[v % 32] >> (v / 32)) & 1;
        y[v] = scale * (unpack_2bit(x[b].qs, v) + 4 * high - 4);
      }
    }
  }
}

// ============================ Q4_K / Q5_K ===================================

void quantize_row_q4_K(const float* x, void* vy, int64_t n, const float* imatrix) {
  auto* y = static_cast<BlockQ4K*>(vy);
  const int64_t nb = super_blocks(n, "q4_K");
  float w[256];
  AffineCode c;
  for (int64_t b = 0; b < nb; ++b, x += 256) {
    error_weights(x, imatrix ? imatrix + 256 * b : nullptr, kQ4Spec.sub_size, w);
    encode_affine(x, w, kQ4Spec, c);
    store_q4_K(c, y[b]);
  }
}

void dequantize_row_q4_K(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ4K*>(vx);
  const int64_t nb = super_blocks(n, "q4_K");
  for (int64_t b = 0; b < nb; ++b, y += 256) {
    const float d = f16_to_f32(x[b].d), dmin = f16_to_f32(x[b].dmin);
    for (int j = 0; j < 8; ++j) {
      int sc, m;
      unpack_scale_min_k4(x[b].scales, j, sc, m);
      const float scale = d * sc, min = dmin * m;
      const uint8_t* qs = x[b].qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);  // even sub-blocks in the low nibbles, odd in the high
      for (int l = 0; l < 32; ++l) y[32 * j + l] = scale * ((qs[l] >> shift) & 15) - min;
    }
  }
}

void quantize_row_q5_K(const float* x, void* vy, int64_t n, const float* imatrix) {
  auto* y = static_cast<BlockQ5K*>(vy);
  const int64_t nb = super_blocks(n, "q5_K");
  float w[256];
  AffineCode c;
  for (int64_t b = 0; b < nb; ++b, x += 256) {
    error_weights(x, imatrix ? imatrix + 256 * b : nullptr, kQ5Spec.sub_size, w);
    encode_affine(x, w, kQ5Spec, c);
    store_q5_K(c, y[b]);
  }
}

void dequantize_row_q5_K(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ5K*>(vx);
  const int64_t nb = super_blocks(n, "q5_K");
  for (int64_t b = 0; b < nb; ++b, y += 256) {
    const float d = f16_to_f32(x[b].d), dmin = f16_to_f32(x[b].dmin);
    for (int j = 0; j < 8; ++j) {
      int sc, m;
      unpack_scale_min_k4(x[b].scales, j, sc, m);
      const float scale = d * sc, min = dmin * m;
      const uint8_t* qs = x[b].qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      for (int l = 0; l < 32; ++l) {
        const int level = ((qs[l] >> shift) & 15) | (((x[b].qh[l] >> j) & 1) << 4);  // sub-block j's high bit is qh bit j
        y[32 * j + l] = scale * level - min;
      }
    }
  }
}

// ================================ Q6_K ======================================
void quantize_row_q6_K(const float* x, void* vy, int64_t n, const float* imatrix) {
  auto* y = static_cast<BlockQ6K*>(vy);
  const int64_t nb = super_blocks(n, "q6_K");
  float w[256];
  SymmetricCode c;
  for (int64_t b = 0; b < nb; ++b, x += 256) {
    error_weights(x, imatrix ? imatrix + 256 * b : nullptr, kQ6Spec.sub_size, w);
    encode_symmetric(x, w, kQ6Spec, c);
    store_q6_K(c, y[b]);
  }
}

void dequantize_row_q6_K(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ6K*>(vx);
  const int64_t nb = super_blocks(n, "q6_K");
  // Loops over 16 consecutive values with one scale each, so that they
  // vectorize (this is the decode hot loop of Q6_K output heads).
  for (int64_t b = 0; b < nb; ++b, y += 256) {
    const float d = f16_to_f32(x[b].d);
    for (int h = 0; h < 2; ++h)
      for (int k = 0; k < 4; ++k) {  // k-th quarter of the half: layout as in quantize_row_q6_K
        const uint8_t* ql = x[b].ql + 64 * h + 32 * (k & 1);
        const uint8_t* qh = x[b].qh + 32 * h;
        const int lshift = 4 * (k >> 1), hshift = 2 * k;
        float* yk = y + 128 * h + 32 * k;
        for (int half = 0; half < 2; ++half) {
          const float scale = d * x[b].scales[8 * h + 2 * k + half];
          for (int l = 16 * half; l < 16 * half + 16; ++l) {
            const int q = ((ql[l] >> lshift) & 15) | (((qh[l] >> hshift) & 3) << 4);
            yk[l] = scale * float(q - 32);
          }
        }
      }
  }
}

// ================================ Q8_K ======================================
// Q8_K is ggml's format for quantised activations: one float scale per 256
// values. Levels are rounded against amax/127; d is then re-fitted by least
// squares to those levels, which can only lower the error.
void quantize_row_q8_K(const float* x, void* vy, int64_t n, const float* imatrix) {
  auto* y = static_cast<BlockQ8K*>(vy);
  const int64_t nb = super_blocks(n, "q8_K");
  for (int64_t b = 0; b < nb; ++b, x += 256) {
    float amax = 0;
    for (int i = 0; i < 256; ++i) amax = std::max(amax, std::fabs(x[i]));
    std::memset(&y[b], 0, sizeof y[b]);
    if (amax == 0) continue;
    const float step = amax / 127;  // divided by, not inverted: 127/amax overflows for denormal amax
    if (step == 0) continue;
    double num = 0, den = 0;
    for (int i = 0; i < 256; ++i) {
      const int q = int(round_even(std::clamp(x[i] / step, -127.f, 127.f)));
      y[b].qs[i] = int8_t(q);
      num += double(x[i]) * q, den += double(q) * q;
    }
    y[b].d = den > 0 ? float(num / den) : step;
    for (int j = 0; j < 16; ++j) {
      int sum = 0;
      for (int i = 16 * j; i < 16 * j + 16; ++i) sum += y[b].qs[i];
      y[b].bsums[j] = int16_t(sum);
    }
  }
}

void dequantize_row_q8_K(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ8K*>(vx);
  const int64_t nb = super_blocks(n, "q8_K");
  for (int64_t b = 0; b < nb; ++b, y += 256)
    for (int i = 0; i < 256; ++i) y[i] = x[b].d * x[b].qs[i];
}

}  // namespace llmq::ggml
