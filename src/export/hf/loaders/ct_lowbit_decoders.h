#pragma once
// Dequantizes one linear of a compressed-tensors checkpoint in the formats
// of the 8-bit and FP4 schemes, to an fp32 weight [out, in], from the format
// definitions (compressed_tensors compressors and vLLM's loaders), not from
// our writer, so that a round trip checks both:
//
//   float-quantized / naive (float)  w = e4m3(weight) * weight_scale
//   int-quantized / naive (int)      w = int8(weight) * weight_scale        (symmetric)
//   nvfp4-pack-quantized             w = e2m1(nibble) * e4m3(weight_scale) / weight_global_scale
//   mxfp4-pack-quantized             w = e2m1(nibble) * 2^(weight_scale - 127)
//
// weight_scale is per tensor ([1] or a scalar) or per output channel ([out, 1]
// or [out]) for the 8-bit formats. Errors name the file and the tensor.
#include <string>

#include "io/hf_checkpoint.h"
#include "model/tensor.h"

namespace llmq {

enum class CtLowbitFormat { Float8, Int8, Nvfp4, Mxfp4 };

Tensor decode_ct_lowbit_linear(const HfCheckpoint& ck, CtLowbitFormat f, const std::string& prefix, int64_t out,
                               int64_t in);

// A module's static input scale (input_scale, [1] or scalar); 0 when absent.
float read_ct_input_scale(const HfCheckpoint& ck, const std::string& prefix);

// A [1] or scalar float tensor; `fallback` when absent.
float read_scalar_tensor(const HfCheckpoint& ck, const std::string& name, float fallback);

}  // namespace llmq
