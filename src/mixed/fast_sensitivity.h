#pragma once
// Fast-mode sensitivity (see sensitivity.h): the importance-weighted
// relative error of a tensor stored in a type, from its weights and the
// importance matrix alone; no forward pass.
#include <cstdint>
#include <vector>

#include "export/gguf/gguf_exporter.h"
#include "export/gguf/gguf_tensor_layout.h"
#include "mixed/sensitivity.h"

namespace llmq {

// sum_j m_j (x - q)^2 / sum_j m_j x^2 over a rows x cols matrix, m_j the
// importance of column j (1 without an importance vector): the error
// measure of fast mode, for any reconstruction q of x.
double weighted_relative_error(const float* x, const float* q, int64_t rows, int64_t cols, const float* importance);

// Fast mode measures at most this many values per tensor (per expert): a
// larger tensor is measured on evenly spaced rows. ggml types quantize each
// row on its own, so the sample's relative error estimates the tensor's; at
// 7B this makes the meter ~7x cheaper (it would otherwise encode the whole
// model once per candidate type), and every fixture tensor is still measured whole.
inline constexpr int64_t kFastSensitivityValues = int64_t(4) << 20;

// Rows 0, s, 2s, ... with the stride s that keeps rows x cols within max_values.
std::vector<int64_t> sensitivity_sample_rows(int64_t rows, int64_t cols, int64_t max_values);

// `values`: the tensor in ggml order (read_gguf_tensor), experts stacked.
// For a stacked tensor the result holds one value per expert and their mean.
// Throws llmq::Error when the codec refuses the type.
TypeSensitivity fast_sensitivity(const GgufTensorSpec& spec, const std::vector<float>& values, ggml::GgmlType type,
                                 const ImportanceLookup& importance, int64_t max_values = kFastSensitivityValues);

}  // namespace llmq
