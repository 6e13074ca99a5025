#pragma once
// SmoothQuant (Xiao et al., 2022): move activation outliers into the weights
// so that both quantize well to 8 bits. For a linear input X [T, in] and the
// weights W [out, in] that read it, per input channel j
//
//   s_j = max_t |X_tj|^alpha / max_i |W_ij|^(1 - alpha)
//   X' = X diag(1/s),  W' = W diag(s)           (X' W'^T = X W^T exactly)
//
// The division of X is folded into whatever produces X (an RMSNorm weight, or
// the rows of a preceding linear), so the full-precision model is unchanged
// and only the quantization error moves. alpha = 0.5 splits the range
// evenly; larger alpha moves more of it into the weights.
//
// These are the array operations; export/hf/smoothquant_model.h applies them
// to the layers of a model.
#include <cstdint>
#include <vector>

namespace llmq {

// Factors are clamped to [kMinSmoothFactor, kMaxSmoothFactor]; a channel whose
// activation or weight maximum is zero keeps factor 1.
inline constexpr float kMinSmoothFactor = 1e-5f;
inline constexpr float kMaxSmoothFactor = 1e5f;

// act_max and weight_max have one entry per input channel.
std::vector<float> smoothquant_factors(const std::vector<float>& act_max, const std::vector<float>& weight_max,
                                       float alpha);

// m[j] = max(m[j], max_i |W[i, j]|) over the rows of W [rows, cols]; m is
// resized to cols (zeros) when empty.
void accumulate_column_max_abs(const float* W, int64_t rows, int64_t cols, std::vector<float>& m);

// W[:, j] *= s[j] (a consumer of the smoothed input).
void scale_columns(float* W, int64_t rows, int64_t cols, const float* s);
// W[j, :] /= s[j] (a producer of the input: norm weight with cols = 1, or a linear's output rows).
void divide_rows(float* W, int64_t rows, int64_t cols, const float* s);

// Largest channel maximum over the median one: how far activation outliers
// stand out (1 for a flat profile; SmoothQuant reports ~100 for LLMs >= 6.7B).
double max_over_median(const std::vector<float>& channel_max);

}  // namespace llmq
