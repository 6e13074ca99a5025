#pragma once
// MXFP4 (OCP Microscaling): groups of 32 consecutive values along a row share
// one E8M0 scale 2^(e-127); each value is an E2M1 code, x ~= 2^(e-127) * fp4.
//
// Two byte layouts are offered, holding the same codes and scales:
//  - "packed" (compressed-tensors mxfp4-pack-quantized, vLLM): weight_packed
//    uint8 [rows, cols/2] with value 2k in the low nibble of byte k, and
//    weight_scale uint8 [rows, cols/32] holding the E8M0 exponents;
//  - "ggml" (GGUF type MXFP4 = 39): per group a 17-byte block_mxfp4
//    {uint8 e; uint8 qs[16]} with value j in the low nibble of qs[j] and
//    value j+16 in the high nibble.
//
// Weights are row-major [rows, cols] (cols = input features); cols must be a
// multiple of 32. importance (optional) has one non-negative weight per column.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "quant/formats/fp/scale_search.h"

namespace llmq::fp {

inline constexpr int kMxfp4GroupSize = 32;

// max_abs uses the OCP rule e = floor(log2(amax)) - 2 (so amax/scale lies in
// [4, 8) and values above 6*scale saturate); search also tries one power of
// two either side, which is all the factors 0.7..1.1 can reach on E8M0.
struct Mxfp4Weights {
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> packed;  // rows * cols / 2, consecutive nibbles
  std::vector<uint8_t> scales;  // rows * cols / 32, E8M0
};

Mxfp4Weights quantize_mxfp4(const float* w, int64_t rows, int64_t cols, const float* importance = nullptr,
                            ScaleRule rule = ScaleRule::search);
// out holds rows * cols floats.
void dequantize_mxfp4(const uint8_t* packed, const uint8_t* scales, int64_t rows, int64_t cols, float* out);
inline void dequantize_mxfp4(const Mxfp4Weights& q, float* out) {
  dequantize_mxfp4(q.packed.data(), q.scales.data(), q.rows, q.cols, out);
}

// --- ggml / GGUF layout ----------------------------------------------------------
struct Mxfp4GgmlBlock {
  uint8_t e;       // E8M0 exponent
  uint8_t qs[16];  // value j: low nibble of qs[j]; value j+16: high nibble
};
static_assert(sizeof(Mxfp4GgmlBlock) == 17, "block_mxfp4 is 17 bytes in GGUF");

// dst holds rows * cols / 32 blocks. Returns the bytes written.
size_t quantize_mxfp4_ggml(const float* w, int64_t rows, int64_t cols, void* dst,
                           const float* importance = nullptr, ScaleRule rule = ScaleRule::search);
// n (a multiple of 32) values from n/32 blocks.
void dequantize_mxfp4_ggml(const void* src, int64_t n, float* out);

// Conversions between the two layouts (lossless: same codes and scales).
std::vector<Mxfp4GgmlBlock> mxfp4_to_ggml(const Mxfp4Weights& q);
Mxfp4Weights mxfp4_from_ggml(const Mxfp4GgmlBlock* blocks, int64_t rows, int64_t cols);

}  // namespace llmq::fp
