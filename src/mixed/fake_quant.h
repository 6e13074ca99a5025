#pragma once
// Quantize-then-dequantize one GGUF tensor (or one expert of a stacked
// tensor) exactly as the GGUF exporter will store it: same codec, same
// importance vector. Sensitivity measurements see the values llama.cpp will.
#include <cstdint>

#include "export/gguf/gguf_exporter.h"
#include "export/gguf/gguf_tensor_layout.h"
#include "quant/formats/ggml/ggml_types.h"

namespace llmq {

// The importance vector the exporter passes for expert `expert` (0 for an
// unstacked tensor) of `spec`, or nullptr. Throws llmq::Error for a vector
// of the wrong length (token_embd's is ignored, as llama-quantize does).
const float* exporter_importance(const GgufTensorSpec& spec, int64_t expert, const ImportanceLookup& importance);

// dst = dequantize(quantize(src)) for `rows` rows of spec.row_length() values
// of expert `expert`. Throws llmq::Error when the codec refuses the type.
void fake_quantize_rows(const GgufTensorSpec& spec, int64_t expert, ggml::GgmlType type, const float* src, float* dst,
                        int64_t rows, const ImportanceLookup& importance);

}  // namespace llmq
