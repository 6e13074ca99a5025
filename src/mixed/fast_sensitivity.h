#pragma once
// Fast-mode sensitivity (see sensitivity.h): the importance-weighted
// relative error of a tensor stored in a type, from its weights and the
// importance matrix alone; no forward pass.
#include <vector>

#include "export/gguf/gguf_exporter.h"
#include "export/gguf/gguf_tensor_layout.h"
#include "mixed/sensitivity.h"

namespace llmq {

// `values`: the tensor in ggml order (read_gguf_tensor), experts stacked.
// For a stacked tensor the result holds one value per expert and their mean.
// Throws llmq::Error when the codec refuses the type.
TypeSensitivity fast_sensitivity(const GgufTensorSpec& spec, const std::vector<float>& values, ggml::GgmlType type,
                                 const ImportanceLookup& importance);

}  // namespace llmq
