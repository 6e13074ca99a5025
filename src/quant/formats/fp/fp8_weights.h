#pragma once
// FP8 E4M3 weight quantization as vLLM / compressed-tensors store it
// (float-quantized, W8A16 / W8A8-FP8): weight uint8 (float8_e4m3fn) codes of
// w / scale, with a float scale per tensor or per output row (channel):
//
//   scale = amax / 448          (max-abs rule)
//   value = decode_e4m3(code) * scale
//
// Weights are row-major [rows, cols] (rows = output channels).
// importance (optional) has one non-negative weight per column.
#include <cstdint>
#include <vector>

#include "quant/formats/fp/scale_search.h"

namespace llmq::fp {

enum class Fp8Granularity { per_tensor, per_channel };

struct Fp8Weights {
  int64_t rows = 0, cols = 0;
  Fp8Granularity granularity = Fp8Granularity::per_channel;
  std::vector<uint8_t> codes;  // rows * cols E4M3 codes
  std::vector<float> scales;   // 1 (per tensor) or rows (per channel)
};

// search tries f * amax / 448 for f in 0.70..1.10 (per row, or for the whole
// tensor) and keeps the lowest weighted squared error. An all-zero row or
// tensor gets the scale float32 epsilon, the floor compressed-tensors applies.
Fp8Weights quantize_fp8(const float* w, int64_t rows, int64_t cols, Fp8Granularity granularity,
                        const float* importance = nullptr, ScaleRule rule = ScaleRule::search);
// out holds rows * cols floats; scales has 1 or rows entries per granularity.
void dequantize_fp8(const uint8_t* codes, const float* scales, Fp8Granularity granularity, int64_t rows,
                    int64_t cols, float* out);
inline void dequantize_fp8(const Fp8Weights& q, float* out) {
  dequantize_fp8(q.codes.data(), q.scales.data(), q.granularity, q.rows, q.cols, out);
}

}  // namespace llmq::fp
