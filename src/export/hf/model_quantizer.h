#pragma once
// Weight-only integer quantization of a whole model with RTN, GPTQ or AWQ.
//
// GPTQ and AWQ walk the decoder a layer at a time over the calibration
// windows (see IntQuantizeOptions::sequential): each layer's Hessians /
// activation statistics are taken on inputs produced by the layers already
// quantized, so errors are compensated rather than compounded.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "export/hf/quantized_model.h"

namespace llmq {

// Called after each layer: (layer, n_layers).
using LayerProgressFn = std::function<void(int, int)>;

// `windows` may be empty for RTN. Throws llmq::Error for options the model
// cannot take (a width the group size does not divide).
QuantizedModel quantize_model_int(const ModelWeights& source, const std::vector<std::vector<int32_t>>& windows,
                                  const IntQuantizeOptions& opt, const LayerProgressFn& progress = {});

// The three methods, for callers that pick one directly.
QuantizedModel quantize_model_rtn(const ModelWeights& source, const IntQuantizeOptions& opt);
QuantizedModel quantize_model_gptq(const ModelWeights& source, const std::vector<std::vector<int32_t>>& windows,
                                   const IntQuantizeOptions& opt, const LayerProgressFn& progress = {});
QuantizedModel quantize_model_awq(const ModelWeights& source, const std::vector<std::vector<int32_t>>& windows,
                                  const IntQuantizeOptions& opt, const LayerProgressFn& progress = {});

// H = 2 X^T X / tokens from a Gram matrix (full symmetric, row-major).
std::vector<double> hessian_from_gram(const std::vector<double>& gram, int64_t tokens);

}  // namespace llmq
