#pragma once
// NVFP4 as written by llm-compressor / compressed-tensors (nvfp4-pack-quantized)
// and read by vLLM: groups of 16 consecutive values along a row, each with an
// FP8 E4M3 scale, under one FP32 global scale per tensor:
//
//   weight_global_scale G = 448 * 6 / amax(|W|)              (stored as is)
//   weight_scale s_g      = e4m3(amax_g / 6 * G)             (max-abs rule)
//   value                 = fp4 * decode_e4m3(s_g) / G
//
// weight_packed is uint8 [rows, cols/2] with value 2k in the low nibble of
// byte k; weight_scale is float8_e4m3fn [rows, cols/16].
//
// Weights are row-major [rows, cols]; cols must be a multiple of 16.
// importance (optional) has one non-negative weight per column.
#include <cstdint>
#include <vector>

#include "quant/formats/fp/scale_search.h"

namespace llmq::fp {

inline constexpr int kNvfp4GroupSize = 16;

struct Nvfp4Weights {
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> packed;  // rows * cols / 2, consecutive nibbles
  std::vector<uint8_t> scales;  // rows * cols / 16, E4M3 codes
  float global_scale = 1.0f;    // G: the effective group scale is decode_e4m3(s) / G
};

// The global scale compressed-tensors picks for a tensor whose largest
// magnitude is amax (448 * 6 / amax; 1 for an all-zero tensor).
float nvfp4_global_scale(float amax);

// search tries the E4M3 codes of f * amax_g / 6 * G for f in 0.70..1.10 per
// group and keeps the lowest weighted error; the global scale is not searched.
// A group whose max-abs scale rounds to E4M3 zero gets the smallest positive
// code instead; an all-zero group gets 0.125 (code 0x20), as compressed-tensors does.
Nvfp4Weights quantize_nvfp4(const float* w, int64_t rows, int64_t cols, const float* importance = nullptr,
                            ScaleRule rule = ScaleRule::search);
// out holds rows * cols floats.
void dequantize_nvfp4(const uint8_t* packed, const uint8_t* scales, float global_scale, int64_t rows,
                      int64_t cols, float* out);
inline void dequantize_nvfp4(const Nvfp4Weights& q, float* out) {
  dequantize_nvfp4(q.packed.data(), q.scales.data(), q.global_scale, q.rows, q.cols, out);
}

}  // namespace llmq::fp
