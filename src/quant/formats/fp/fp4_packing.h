#pragma once
// Two E2M1 codes per byte, in the two orders found in the wild.
#include <cstdint>

namespace llmq::fp {

// compressed-tensors / vLLM / OCP: value 2k in the low nibble of byte k,
// value 2k+1 in the high nibble. n must be even; packed holds n/2 bytes.
void pack_fp4_consecutive(const uint8_t* codes, int64_t n, uint8_t* packed);
void unpack_fp4_consecutive(const uint8_t* packed, int64_t n, uint8_t* codes);

// ggml block_mxfp4 (GGUF): within each block of 32 values, value j sits in
// the low nibble of qs[j] and value j+16 in its high nibble (j < 16).
inline constexpr int kGgmlFp4Block = 32;
void pack_fp4_ggml_block(const uint8_t* codes /*32*/, uint8_t* qs /*16*/);
void unpack_fp4_ggml_block(const uint8_t* qs /*16*/, uint8_t* codes /*32*/);

}  // namespace llmq::fp
