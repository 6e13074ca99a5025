#pragma once
// The row permutation llama.cpp's converter applies to the q and k
// projections of "llama"-architecture models.
//
// Hugging Face rotates the two halves of each head together (x[i] with
// x[i + head_dim/2]); llama.cpp's llama graph rotates adjacent pairs
// (x[2i] with x[2i+1]). Reordering the rows of W_q and W_k (and their
// biases) so that HF row j*head_dim/2 + i of a head becomes row 2i + j makes
// the two conventions compute the same attention scores. qwen2/qwen3 models
// use llama.cpp's NEOX rope, which matches HF, and are not permuted.
#include <cstdint>

namespace llmq {

// dst and src are [n_heads * head_dim, cols] row-major and must not overlap.
void permute_rope_rows(const float* src, float* dst, int64_t n_heads, int64_t head_dim, int64_t cols);
// The inverse: GGUF order back to Hugging Face order.
void unpermute_rope_rows(const float* src, float* dst, int64_t n_heads, int64_t head_dim, int64_t cols);

}  // namespace llmq
