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

// `values`: the tensor in ggml order (read_gguf_tensor), experts stacked.
// For a stacked tensor the result holds one value per expert and their mean.
// Throws llmq::Error when the codec refuses the type.
TypeSensitivity fast_sensitivity(const GgufTensorSpec& spec, const std::vector<float>& values, ggml::GgmlType type,
                                 const ImportanceLookup& importance);

}  // namespace llmq
