#include "quant/formats/fp/mxfp4.h"

#include <cmath>
#include <cstring>

#include "quant/formats/fp/fp4_packing.h"
#include "quant/formats/fp/group_codec.h"
#include "quant/formats/fp/minifloat.h"
#include "util/error.h"

namespace llmq::fp {
namespace {

void check_shape(int64_t rows, int64_t cols) {
  if (rows < 0 || cols <= 0 || cols % kMxfp4GroupSize != 0)
    fail("MXFP4: row length {} is not a positive multiple of {}", cols, kMxfp4GroupSize);
}

// The E8M0 exponent for one group of 32, and its 32 E2M1 codes.
uint8_t quantize_group(const float* x, const float* importance, ScaleRule rule, uint8_t* codes) {
  const float amax = max_abs(x, kMxfp4GroupSize);
  if (amax == 0.0f) {  // any scale is exact; 2^-127 is what ggml writes
    std::memset(codes, 0, kMxfp4GroupSize);
    return 0;
  }
  // OCP shared exponent: floor(log2(amax)) minus E2M1's largest exponent (2).
  int exp2;
  std::frexp(amax, &exp2);  // amax = m * 2^exp2, m in [0.5, 1)
  uint8_t best = e8m0_from_exponent(exp2 - 1 - 2);
  if (rule == ScaleRule::search) {
    double best_err = e2m1_group_error(x, importance, kMxfp4GroupSize, decode_e8m0(best));
    for (int delta : {-1, +1}) {
      const int e = int(best) + delta;
      if (e < 0 || e > 254) continue;
      const double err = e2m1_group_error(x, importance, kMxfp4GroupSize, decode_e8m0(uint8_t(e)));
      if (err < best_err) best_err = err, best = uint8_t(e);
    }
  }
  encode_e2m1_group(x, kMxfp4GroupSize, decode_e8m0(best), codes);
  return best;
}

// Codes (one per byte) and E8M0 scales of one row.
void quantize_row(const float* x, int64_t cols, const float* importance, ScaleRule rule, uint8_t* codes,
                  uint8_t* scales) {
  for (int64_t g = 0; g < cols / kMxfp4GroupSize; ++g) {
    const int64_t off = g * kMxfp4GroupSize;
    scales[g] = quantize_group(x + off, importance ? importance + off : nullptr, rule, codes + off);
  }
}

}  // namespace

Mxfp4Weights quantize_mxfp4(const float* w, int64_t rows, int64_t cols, const float* importance,
                            ScaleRule rule) {
  check_shape(rows, cols);
  Mxfp4Weights q;
  q.rows = rows;
  q.cols = cols;
  q.packed.resize(size_t(rows * cols / 2));
  q.scales.resize(size_t(rows * cols / kMxfp4GroupSize));
#pragma omp parallel
  {
    std::vector<uint8_t> codes(static_cast<size_t>(cols));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      quantize_row(w + r * cols, cols, importance, rule, codes.data(),
                   q.scales.data() + r * (cols / kMxfp4GroupSize));
      pack_fp4_consecutive(codes.data(), cols, q.packed.data() + r * (cols / 2));
    }
  }
  return q;
}

void dequantize_mxfp4(const uint8_t* packed, const uint8_t* scales, int64_t rows, int64_t cols, float* out) {
  check_shape(rows, cols);
  const int64_t n = rows * cols;
#pragma omp parallel for schedule(static)
  for (int64_t g = 0; g < n / kMxfp4GroupSize; ++g) {
    const float scale = decode_e8m0(scales[g]);
    const uint8_t* p = packed + g * (kMxfp4GroupSize / 2);
    float* y = out + g * kMxfp4GroupSize;
    for (int k = 0; k < kMxfp4GroupSize / 2; ++k) {
      y[2 * k] = scale * decode_e2m1(p[k] & 0x0F);
      y[2 * k + 1] = scale * decode_e2m1(p[k] >> 4);
    }
  }
}

size_t quantize_mxfp4_ggml(const float* w, int64_t rows, int64_t cols, void* dst, const float* importance,
                           ScaleRule rule) {
  check_shape(rows, cols);
  auto* blocks = static_cast<Mxfp4GgmlBlock*>(dst);
  const int64_t groups_per_row = cols / kMxfp4GroupSize;
#pragma omp parallel
  {
    std::vector<uint8_t> codes(static_cast<size_t>(cols)), scales(static_cast<size_t>(groups_per_row));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      quantize_row(w + r * cols, cols, importance, rule, codes.data(), scales.data());
      for (int64_t g = 0; g < groups_per_row; ++g) {
        Mxfp4GgmlBlock& b = blocks[r * groups_per_row + g];
        b.e = scales[g];
        pack_fp4_ggml_block(codes.data() + g * kMxfp4GroupSize, b.qs);
      }
    }
  }
  return size_t(rows * groups_per_row) * sizeof(Mxfp4GgmlBlock);
}

void dequantize_mxfp4_ggml(const void* src, int64_t n, float* out) {
  check_shape(1, n);
  const auto* blocks = static_cast<const Mxfp4GgmlBlock*>(src);
#pragma omp parallel for schedule(static)
  for (int64_t g = 0; g < n / kMxfp4GroupSize; ++g) {
    uint8_t codes[kMxfp4GroupSize];
    unpack_fp4_ggml_block(blocks[g].qs, codes);
    const float scale = decode_e8m0(blocks[g].e);
    for (int j = 0; j < kMxfp4GroupSize; ++j) out[g * kMxfp4GroupSize + j] = scale * decode_e2m1(codes[j]);
  }
}

std::vector<Mxfp4GgmlBlock> mxfp4_to_ggml(const Mxfp4Weights& q) {
  check_shape(q.rows, q.cols);
  const int64_t n_groups = q.rows * q.cols / kMxfp4GroupSize;
  std::vector<Mxfp4GgmlBlock> blocks(static_cast<size_t>(n_groups));
  uint8_t codes[kMxfp4GroupSize];
  for (int64_t g = 0; g < n_groups; ++g) {
    unpack_fp4_consecutive(q.packed.data() + g * (kMxfp4GroupSize / 2), kMxfp4GroupSize, codes);
    blocks[g].e = q.scales[g];
    pack_fp4_ggml_block(codes, blocks[g].qs);
  }
  return blocks;
}

Mxfp4Weights mxfp4_from_ggml(const Mxfp4GgmlBlock* blocks, int64_t rows, int64_t cols) {
  check_shape(rows, cols);
  Mxfp4Weights q;
  q.rows = rows;
  q.cols = cols;
  const int64_t n_groups = rows * cols / kMxfp4GroupSize;
  q.packed.resize(size_t(rows * cols / 2));
  q.scales.resize(size_t(n_groups));
  uint8_t codes[kMxfp4GroupSize];
  for (int64_t g = 0; g < n_groups; ++g) {
    unpack_fp4_ggml_block(blocks[g].qs, codes);
    q.scales[g] = blocks[g].e;
    pack_fp4_consecutive(codes, kMxfp4GroupSize, q.packed.data() + g * (kMxfp4GroupSize / 2));
  }
  return q;
}

}  // namespace llmq::fp
