// ggml's legacy 32-value block formats: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0.
// Layouts are in legacy_blocks.h, the scale search in legacy_scale_search.h;
// this file turns rows into blocks and back.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/formats/ggml/ggml_quants.h"
#include "quant/formats/ggml/legacy_blocks.h"
#include "quant/formats/ggml/legacy_scale_search.h"
#include "util/error.h"
#include "util/half.h"

namespace llmq::ggml {

using namespace legacy;

namespace {

int64_t block_count(const char* type, int64_t n) {
  if (n < 0 || n % kBlockValues != 0) fail("{}: row of {} values is not a multiple of the block size {}", type, n, kBlockValues);
  return n / kBlockValues;
}

// Destination buffers (e.g. a tensor inside a GGUF image) need not be aligned
// for the blocks' uint16_t fields, so blocks are copied in and out bytewise.
template <typename Block>
void store_block(void* dst, int64_t index, const Block& b) {
  std::memcpy(static_cast<uint8_t*>(dst) + index * int64_t(sizeof(Block)), &b, sizeof(Block));
}
template <typename Block>
Block load_block(const void* src, int64_t index) {
  Block b;
  std::memcpy(&b, static_cast<const uint8_t*>(src) + index * int64_t(sizeof(Block)), sizeof(Block));
  return b;
}

// Weights for the error each block minimises. Without an importance matrix,
// plain squared error. With one, ggml's weighting imatrix_j * sqrt(sigma^2 +
// x_j^2) (sigma^2 = the row's mean square): the activation statistics say
// which columns matter, and the extra factor leans towards large weights,
// which ggml found to lower perplexity further.
class BlockWeights {
 public:
  BlockWeights(const float* row, int64_t n, const float* imatrix) : imatrix_(imatrix) {
    if (!imatrix_) {
      std::fill(w_, w_ + kBlockValues, 1.0f);
      return;
    }
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += double(row[i]) * row[i];
    sigma2_ = float(sum / double(n));
  }

  // Weights for block `ib` whose values are xb.
  const float* for_block(int64_t ib, const float* xb) {
    if (!imatrix_) return w_;
    const float* qw = imatrix_ + ib * kBlockValues;
    float total = 0.0f;
    for (int i = 0; i < kBlockValues; ++i) {
      w_[i] = qw[i] * std::sqrt(sigma2_ + xb[i] * xb[i]);
      total += w_[i];
    }
    // Columns never activated during calibration carry no information: fall
    // back to plain squared error rather than an arbitrary scale.
    if (!(total > 0.0f)) std::fill(w_, w_ + kBlockValues, 1.0f);
    return w_;
  }

 private:
  const float* imatrix_;
  float sigma2_ = 0.0f;
  float w_[kBlockValues];
};

}  // namespace

// ---- Q4_0 / Q5_0: symmetric, d * (q - nmax) --------------------------------

void quantize_row_q4_0(const float* x, void* y, int64_t n, const float* imatrix) {
  const int64_t nb = block_count("Q4_0", n);
  BlockWeights weights(x, n, imatrix);
  for (int64_t ib = 0; ib < nb; ++ib) {
    const float* xb = x + ib * kBlockValues;
    const SymmetricBlock fit = fit_symmetric_block(xb, weights.for_block(ib, xb), 8);
    BlockQ4_0 b;
    b.d = fit.d;
    pack_nibbles(fit.q, b.qs);
    store_block(y, ib, b);
  }
}

void dequantize_row_q4_0(const void* x, float* y, int64_t n) {
  const int64_t nb = block_count("Q4_0", n);
  for (int64_t ib = 0; ib < nb; ++ib) {
    const auto b = load_block<BlockQ4_0>(x, ib);
    uint8_t q[kBlockValues];
    unpack_nibbles(b.qs, q);
    const float d = f16_to_f32(b.d);
    for (int i = 0; i < kBlockValues; ++i) y[ib * kBlockValues + i] = float(int(q[i]) - 8) * d;
  }
}

void quantize_row_q5_0(const float* x, void* y, int64_t n, const float* imatrix) {
  const int64_t nb = block_count("Q5_0", n);
  BlockWeights weights(x, n, imatrix);
  for (int64_t ib = 0; ib < nb; ++ib) {
    const float* xb = x + ib * kBlockValues;
    const SymmetricBlock fit = fit_symmetric_block(xb, weights.for_block(ib, xb), 16);
    BlockQ5_0 b;
    b.d = fit.d;
    pack_high_bits(fit.q, b.qh);
    pack_nibbles(fit.q, b.qs);
    store_block(y, ib, b);
  }
}

void dequantize_row_q5_0(const void* x, float* y, int64_t n) {
  const int64_t nb = block_count("Q5_0", n);
  for (int64_t ib = 0; ib < nb; ++ib) {
    const auto b = load_block<BlockQ5_0>(x, ib);
    uint8_t q[kBlockValues];
    unpack_nibbles(b.qs, q);
    add_high_bits(b.qh, q);
    const float d = f16_to_f32(b.d);
    for (int i = 0; i < kBlockValues; ++i) y[ib * kBlockValues + i] = float(int(q[i]) - 16) * d;
  }
}

// ---- Q4_1 / Q5_1: affine, d * q + m ----------------------------------------

void quantize_row_q4_1(const float* x, void* y, int64_t n, const float* imatrix) {
  const int64_t nb = block_count("Q4_1", n);
  BlockWeights weights(x, n, imatrix);
  for (int64_t ib = 0; ib < nb; ++ib) {
    const float* xb = x + ib * kBlockValues;
    const AffineBlock fit = fit_affine_block(xb, weights.for_block(ib, xb), 15);
    BlockQ4_1 b;
    b.d = fit.d;
    b.m = fit.m;
    pack_nibbles(fit.q, b.qs);
    store_block(y, ib, b);
  }
}

void dequantize_row_q4_1(const void* x, float* y, int64_t n) {
  const int64_t nb = block_count("Q4_1", n);
  for (int64_t ib = 0; ib < nb; ++ib) {
    const auto b = load_block<BlockQ4_1>(x, ib);
    uint8_t q[kBlockValues];
    unpack_nibbles(b.qs, q);
    const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
    for (int i = 0; i < kBlockValues; ++i) y[ib * kBlockValues + i] = float(q[i]) * d + m;
  }
}

void quantize_row_q5_1(const float* x, void* y, int64_t n, const float* imatrix) {
  const int64_t nb = block_count("Q5_1", n);
  BlockWeights weights(x, n, imatrix);
  for (int64_t ib = 0; ib < nb; ++ib) {
    const float* xb = x + ib * kBlockValues;
    const AffineBlock fit = fit_affine_block(xb, weights.for_block(ib, xb), 31);
    BlockQ5_1 b;
    b.d = fit.d;
    b.m = fit.m;
    pack_high_bits(fit.q, b.qh);
    pack_nibbles(fit.q, b.qs);
    store_block(y, ib, b);
  }
}

void dequantize_row_q5_1(const void* x, float* y, int64_t n) {
  const int64_t nb = block_count("Q5_1", n);
  for (int64_t ib = 0; ib < nb; ++ib) {
    const auto b = load_block<BlockQ5_1>(x, ib);
    uint8_t q[kBlockValues];
    unpack_nibbles(b.qs, q);
    add_high_bits(b.qh, q);
    const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
    for (int i = 0; i < kBlockValues; ++i) y[ib * kBlockValues + i] = float(q[i]) * d + m;
  }
}

// ---- Q8_0 -------------------------------------------------------------------

// Exactly ggml's rule (d = amax/127, codes rounded half away from zero with
// the unrounded 1/d), so our Q8_0 files match llama.cpp's byte for byte. With
// 255 levels a scale search gains almost nothing, so the importance matrix
// is not used (ggml ignores it here too).
void quantize_row_q8_0(const float* x, void* y, int64_t n, const float* /*imatrix*/) {
  const int64_t nb = block_count("Q8_0", n);
  for (int64_t ib = 0; ib < nb; ++ib) {
    const float* xb = x + ib * kBlockValues;
    float amax = 0.0f;
    for (int i = 0; i < kBlockValues; ++i) amax = std::max(amax, std::fabs(xb[i]));
    const float d = amax / 127.0f;
    const float inv = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ8_0 b;
    b.d = f32_to_f16(d);
    for (int i = 0; i < kBlockValues; ++i) b.qs[i] = int8_t(std::round(xb[i] * inv));
    store_block(y, ib, b);
  }
}

void dequantize_row_q8_0(const void* x, float* y, int64_t n) {
  const int64_t nb = block_count("Q8_0", n);
  for (int64_t ib = 0; ib < nb; ++ib) {
    const auto b = load_block<BlockQ8_0>(x, ib);
    const float d = f16_to_f32(b.d);
    for (int i = 0; i < kBlockValues; ++i) y[ib * kBlockValues + i] = float(b.qs[i]) * d;
  }
}

}  // namespace llmq::ggml
