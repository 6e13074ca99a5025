#pragma once
// Quantization a serving runtime applies at inference time, beyond the stored
// weights: the inputs of the linears of a W8A8 scheme (vLLM's int8 / FP8
// "input_activations") and an FP8 KV cache. A model loaded from such a
// checkpoint carries a RuntimeQuant, and the fp32 forward pass applies the
// same quantize-dequantize the runtime would, so perplexity and KL measured
// on it are those of the served model, not of its weights alone.
//
// What is simulated, per vLLM's kernels:
//   int8 dynamic per token   s_t = max_j |x_tj| / 127, q = rne(x * 127 / max), clamp [-128, 127]
//   FP8 dynamic per token    s_t = max(max_j |x_tj| / 448, 1 / (448 * 512)), q = e4m3(x / s_t) saturating
//   static per tensor        one calibrated scale per linear input (int8 or FP8 as above)
//   FP8 KV cache             keys (after RoPE) and values stored as e4m3(x / k_scale), per layer
#include <cstdint>
#include <vector>

#include "model/forward_hooks.h"

namespace llmq {

enum class ActQuantType { None, Int8, Fp8 };
const char* act_quant_type_name(ActQuantType t);  // "none", "int8", "fp8"

struct LinearInputQuant {
  ActQuantType type = ActQuantType::None;
  bool dynamic = true;               // per-token scales at run time; false: static per-tensor scales
  std::vector<float> static_scales;  // !dynamic: [n_layers * 4], indexed layer * 4 + LinearSlot
  // [n_layers * 4] like static_scales: 0 for an input whose linears stay in
  // full precision (the runtime quantizes inputs of quantized linears only);
  // empty: every input is quantized.
  std::vector<uint8_t> quantized_inputs;

  bool enabled() const { return type != ActQuantType::None; }
  bool quantizes(int layer, LinearSlot slot) const;
  float static_scale(int layer, LinearSlot slot) const;  // throws llmq::Error when missing
};

struct KvCacheQuant {
  bool fp8 = false;
  std::vector<float> k_scale, v_scale;  // per layer
};

struct RuntimeQuant {
  LinearInputQuant inputs;
  KvCacheQuant kv;
  bool empty() const { return !inputs.enabled() && !kv.fp8; }
};

// X [T, n] in place, as the runtime quantizes the input of `slot` in `layer`.
// No-op when q is not enabled.
void fake_quantize_linear_input(const LinearInputQuant& q, int layer, LinearSlot slot, float* X, int64_t T,
                                int64_t n);

// The element operations, exposed for tests.
void fake_quantize_int8_per_token(float* X, int64_t T, int64_t n);
void fake_quantize_fp8_per_token(float* X, int64_t T, int64_t n);
void fake_quantize_int8_static(float* x, int64_t n, float scale);
void fake_quantize_fp8_static(float* x, int64_t n, float scale);

}  // namespace llmq
