#pragma once
// Round-to-nearest: each (row, group) gets the min-max grid of its weights,
// each weight the nearest code. The baseline GPTQ and AWQ must beat.
#include <vector>

#include "model/tensor.h"
#include "quant/formats/intq/quantized_linear.h"

namespace llmq {

// w is [out, in]. Throws llmq::Error when spec does not fit the width.
QuantizedLinear quantize_rtn(const Tensor& w, const IntQuantSpec& spec);

// Same, with a clipping ratio per (row, group) ([out, n_groups], each in
// (0, 1]) shrinking the fitted range (AWQ's clipping search).
QuantizedLinear quantize_rtn_clipped(const Tensor& w, const IntQuantSpec& spec, const std::vector<float>& shrink);

// Quantize-dequantize in place (the weight a consumer of the checkpoint sees).
void fake_quantize_rtn(Tensor& w, const IntQuantSpec& spec);

}  // namespace llmq
