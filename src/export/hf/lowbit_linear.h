#pragma once
// One linear weight in a low-bit scheme (FP8, int8 per channel, NVFP4,
// MXFP4) as it is stored, plus the static input scale of schemes that
// calibrate one. The format-level codecs live in quant/formats; this picks
// the codec for the scheme and keeps whichever form it produced.
#include <cstdint>
#include <vector>

#include "export/hf/lowbit_scheme.h"
#include "model/tensor.h"
#include "quant/formats/fp/fp8_weights.h"
#include "quant/formats/fp/mxfp4.h"
#include "quant/formats/fp/nvfp4.h"
#include "quant/formats/intq/quantized_linear.h"

namespace llmq {

struct LowbitLinear {
  LowbitWeights format = LowbitWeights::Fp8;
  int64_t rows = 0, cols = 0;
  fp::Fp8Weights fp8;      // format Fp8
  QuantizedLinear int8;    // format Int8: 8-bit symmetric per channel, codes offset by 128
  fp::Nvfp4Weights nvfp4;  // format Nvfp4
  fp::Mxfp4Weights mxfp4;  // format Mxfp4
  float input_scale = 0;   // static activation scale (0: none)

  // The fp32 weight [rows, cols] a consumer reconstructs.
  Tensor dequantize() const;
};

// The int8 spec of int-quantized (F32 scales) and pack-quantized (BF16 scales) checkpoints.
IntQuantSpec int8_channel_spec(bool int_quantized_layout);

// Rows [r0, r1) of q, as their own linear: a fused group (q/k/v, gate/up)
// is quantized as one stacked matrix so that tensor-level scales are shared,
// then handed back per linear.
LowbitLinear slice_rows(const LowbitLinear& q, int64_t r0, int64_t r1);

// w is [out, in]; importance (optional) has one weight per input column and
// steers the scale search of the FP formats. Throws llmq::Error when the
// width does not fit the format's groups.
LowbitLinear quantize_lowbit_linear(const Tensor& w, const LowbitScheme& scheme, const float* importance);

}  // namespace llmq
