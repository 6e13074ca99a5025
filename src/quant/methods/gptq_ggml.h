#pragma once
// GPTQ into llama.cpp's k-quant layouts (Q2_K..Q6_K) and IQ4_XS: the same column sweep
// as gptq.h, with the format's own 256-value super-blocks as the groups.
// When the sweep reaches a super-block, each row's scales and mins are chosen
// by the row quantizer's search on the values as they are then (earlier
// columns' errors already folded in); the values are then rounded one column
// at a time against those scales, and each column's error is spread over the
// columns not yet quantized. The bytes are exactly the format's, so any
// reader of the type (llama.cpp included) reads them.
#include <cstdint>
#include <vector>

#include "model/tensor.h"
#include "quant/formats/ggml/ggml_types.h"
#include "quant/methods/gptq.h"

namespace llmq {

// Whether gptq_quantize_ggml handles the type.
bool gptq_supports_ggml_type(ggml::GgmlType type);

// w: [out, in] (in a multiple of 256); h: [in, in] (any positive multiple of
// X^T X). importance: one weight per column for the scale search (an
// imatrix's entries), or null for H's diagonal. Returns out * row_size bytes.
// act order and static groups do not apply (the format's groups are fixed
// runs of columns). When H never factors, the rows are quantized as the row
// quantizer would (stats->rtn_fallback).
std::vector<uint8_t> gptq_quantize_ggml(const Tensor& w, std::vector<double> h, ggml::GgmlType type,
                                        const float* importance, const GptqOptions& opt = {},
                                        GptqStats* stats = nullptr);

}  // namespace llmq
