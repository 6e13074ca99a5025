#pragma once
// The numeric building blocks of the forward pass. Matrix products go to
// OpenBLAS sgemm in fixed tiles (runtime/deterministic_gemm.h); element-wise
// loops are OpenMP-parallel over rows.
#include <cstdint>

#include "model/tensor.h"

namespace llmq::ops {

// Y[T, out] = X[T, in] * W[out, in]^T (+ bias[out] if non-null)
void linear(const float* X, const float* W, const float* bias, float* Y, int64_t T, int64_t in, int64_t out);
// The same for a weight that may be lazy: its rows are converted to fp32 a tile
// at a time (a few MB) and multiplied, so no fp32 copy of W is ever whole.
// `bias` may be an empty tensor.
void linear(const float* X, const Tensor& W, const Tensor& bias, float* Y, int64_t T);
// y = x / rms(x) * w, row by row over T rows of n
void rms_norm(const float* x, const float* w, float* y, int64_t T, int64_t n, float eps);
// a = silu(g) * u, element-wise over n values
void swiglu(const float* g, const float* u, float* a, int64_t n);
// In-place softmax of a row of n values.
void softmax(float* x, int64_t n);
// Sets the number of threads used by BLAS and OpenMP loops (0 = all cores).
// Returns the count in use: n (0: all cores), fewer when the address-space
// limit (ulimit -v) leaves no room for n threads' buffers and stacks.
int set_num_threads(int n);
int num_threads();

}  // namespace llmq::ops
