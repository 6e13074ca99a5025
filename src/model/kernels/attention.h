#pragma once
// Causal multi-head attention (grouped KV heads) over a KV cache, without a
// [T, T] score matrix per head: short batches (decode) keep one row of
// scores per thread and run in parallel over heads; longer ones take tiles
// of 256 queries through BLAS. Memory grows with the context, not with its
// square.
#include <cstdint>

namespace llmq::kernels {

// Q: [T, n_heads * head_dim], the queries at positions pos0 .. pos0 + T - 1.
// K, V: [pos0 + T, n_kv_heads * head_dim], every cached position.
// out: [T, n_heads * head_dim] = softmax(Q K^T / sqrt(head_dim), causal) V.
void causal_attention(const float* Q, const float* K, const float* V, float* out, int64_t T, int64_t pos0,
                      int64_t n_heads, int64_t n_kv_heads, int64_t head_dim);

}  // namespace llmq::kernels
