#pragma once
// The 8-bit and FP4 schemes vLLM serves from compressed-tensors checkpoints,
// as `quantize MODEL fp8|fp4|int8|smoothquant --scheme S` names them:
//
//   method       scheme    weights                         activations (simulated)     stored as
//   fp8          dynamic   FP8 E4M3, scale per channel     FP8 per token, dynamic      float-quantized
//   fp8          static    FP8 E4M3, scale per tensor      FP8 per tensor, calibrated  float-quantized
//   fp8          w8a16     FP8 E4M3, scale per channel     -                           float-quantized
//   fp4          nvfp4     E2M1 g16, E4M3 scale x FP32     -                           nvfp4-pack-quantized
//   fp4          mxfp4     E2M1 g32, E8M0 scale            -                           mxfp4-pack-quantized
//   int8         w8a16     int8 per channel, symmetric     -                           pack-quantized (8 bit)
//   int8         w8a8      int8 per channel, symmetric     int8 per token, dynamic     int-quantized
//   smoothquant  w8a8      as int8 w8a8 after SmoothQuant smoothing
//
// (vLLM takes int8 weight-only checkpoints only as pack-quantized: its
// int-quantized path needs input activations.) --weight-scales overrides the
// FP8 granularity; --smoothquant adds smoothing to any scheme that quantizes
// activations; --kv-cache-dtype fp8 adds calibrated per-layer k/v scales.
#include <string>

#include "quant/formats/fp/scale_search.h"

namespace llmq {

enum class LowbitWeights { Fp8, Int8, Nvfp4, Mxfp4 };
enum class ActScheme { None, DynamicPerToken, StaticPerTensor };

struct LowbitScheme {
  LowbitWeights weights = LowbitWeights::Fp8;
  bool per_tensor_weights = false;  // FP8 only; every other format has its own granularity
  ActScheme acts = ActScheme::None;  // activations take the weights' type (FP8 or int8)
  bool smooth = false;               // SmoothQuant before quantizing
  float alpha = 0.5f;                // SmoothQuant migration strength
  bool smooth_norms_only = false;    // smooth only q/k/v and gate/up (norm-folded), not o and down
  bool kv_fp8 = false;               // FP8 KV cache with calibrated scales
  fp::ScaleRule scale_rule = fp::ScaleRule::search;
  // Weight the FP8/FP4 scale search by calibration E[x^2] per column. FP4
  // schemes calibrate for it; FP8 uses it when it calibrates anyway.
  bool use_importance = true;

  bool quantizes_activations() const { return acts != ActScheme::None; }
  // Whether a calibration pass is needed (statistics the scheme uses).
  bool needs_calibration() const;
  // "fp8-dynamic", "nvfp4", "int8-w8a8-smoothquant", ...: for names and messages.
  std::string name() const;
};

// method: fp8 | fp4 | int8 | smoothquant; scheme: empty for the method's
// default, else one of the table above; weight_scales: empty, channel or tensor.
// Throws llmq::Error naming the bad combination.
LowbitScheme parse_lowbit_scheme(const std::string& method, const std::string& scheme,
                                 const std::string& weight_scales, bool smoothquant);

bool is_lowbit_method(const std::string& method);

// compressed-tensors "format" of the scheme's quantized linears.
const char* compressed_tensors_format(const LowbitScheme& s);

}  // namespace llmq
