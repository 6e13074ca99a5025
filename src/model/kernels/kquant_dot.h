#pragma once
// Dot products of ggml weight rows (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_0) with activations quantized to Q8_K
// (ggml's 8-bit activation blocks of 256 values), in integer arithmetic as
// llama.cpp's CPU backend computes them for decoding: the weight blocks are
// never expanded to floats. AVX2 where the compiler targets it, a portable
// loop with the same integer sums otherwise.
#include <cstdint>

#include "quant/formats/ggml/ggml_types.h"

namespace llmq::kernels {

// Whether dot_q8k handles weight rows of `type`.
bool has_q8k_dot(ggml::GgmlType type);

// sum over `blocks` runs of 256 values of dequantized(w) * dequantized(x),
// where w is one row of `type` and x the Q8_K row of the same length.
float dot_q8k(ggml::GgmlType type, const void* w, const void* x, int64_t blocks);

// The same without vector instructions (the reference the tests hold the
// vector code to).
float dot_q8k_portable(ggml::GgmlType type, const void* w, const void* x, int64_t blocks);

}  // namespace llmq::kernels
