#pragma once
// Dot products of weight rows in their stored form with a few fp32
// activation rows: the inner loop of decoding (one token) and small batches.
// Each weight value is read once and converted in registers, never written
// out as fp32. Built for the compiling machine's vector unit (AVX-512 or AVX2
// with FMA/F16C; a portable loop otherwise).
#include <cstdint>

namespace llmq::kernels {

enum class RowType { F32, F16, BF16 };

// Y[t * ldy + r] = dot(W row r, X row t) for r < n_rows, t < T.
// W: n_rows rows of `cols` values of `type`, contiguous; X: T rows of `cols`.
void dot_rows(RowType type, const void* W, int64_t n_rows, int64_t cols, const float* X, int64_t T, float* Y,
              int64_t ldy);

// One fp32 dot product, with several accumulators (a single one would wait
// on each add's latency).
float dot_f32(const float* a, const float* b, int64_t n);

}  // namespace llmq::kernels
