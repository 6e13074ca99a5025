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

#include "export/hf/layer_stream.h"
#include "export/hf/quantized_model.h"

namespace llmq {

// Called after each layer: (layer, n_layers).
using LayerProgressFn = std::function<void(int, int)>;

using IntLayerStream = LayerStream<QuantizedModel>;

// `windows` may be empty for RTN. Throws llmq::Error for options the model
// cannot take (a width the group size does not divide). `source` may be lazy
// (each layer is made dense when it is quantized). With a `stream`, every
// finished layer is handed to it and then released (layer_stream.h), so the
// returned model holds the layers before stream->first_layer and after the
// last as `source` does, and no quantized linears.
QuantizedModel quantize_model_int(const ModelWeights& source, const std::vector<std::vector<int32_t>>& windows,
                                  const IntQuantizeOptions& opt, const LayerProgressFn& progress = {},
                                  IntLayerStream* stream = nullptr);

// GPTQ's Gram matrices are summed over blocks of this many calibration
// windows (calibration/window_blocks.h): the same bits for any number of
// processes. Up to windows / 16 processes share the work (8 at the default
// 128 windows); a process other than the first holds its blocks' partial
// matrices until the totals before them arrive.
inline constexpr int64_t kGptqWindowsPerBlock = 16;

// The three methods, for callers that pick one directly.
QuantizedModel quantize_model_rtn(const ModelWeights& source, const IntQuantizeOptions& opt,
                                  const LayerProgressFn& progress = {}, IntLayerStream* stream = nullptr);
QuantizedModel quantize_model_gptq(const ModelWeights& source, const std::vector<std::vector<int32_t>>& windows,
                                   const IntQuantizeOptions& opt, const LayerProgressFn& progress = {},
                                   IntLayerStream* stream = nullptr);
QuantizedModel quantize_model_awq(const ModelWeights& source, const std::vector<std::vector<int32_t>>& windows,
                                  const IntQuantizeOptions& opt, const LayerProgressFn& progress = {},
                                  IntLayerStream* stream = nullptr);

// H = 2 X^T X / tokens from a Gram matrix (full symmetric, row-major).
// Scales `gram` in place (pass a temporary or std::move to avoid a copy).
std::vector<double> hessian_from_gram(std::vector<double> gram, int64_t tokens);

// What quantizing the largest layer takes besides the hidden states: the layer
// in fp32 plus the input statistics the method holds at once (GPTQ: the widest
// input's float64 Hessian and its float inverse factor; AWQ: every input's
// Gram matrix of the layer and its single-precision form). `w` may be lazy.
int64_t layer_working_bytes(ModelWeights& w, IntQuantMethod method);

}  // namespace llmq
