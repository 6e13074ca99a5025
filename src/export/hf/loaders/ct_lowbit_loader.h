#pragma once
// Loads compressed-tensors checkpoints of the 8-bit and FP4 schemes
// (float-quantized, int-quantized, naive-quantized, nvfp4-pack-quantized,
// mxfp4-pack-quantized, and pack-quantized ones whose scheme quantizes
// activations or the KV cache): every linear is dequantized to fp32, and the
// activation and KV-cache quantization the config declares is set on the
// weights' RuntimeQuant, so the forward pass simulates what vLLM computes.
#include <memory>
#include <string>

#include "model/model_loader.h"

namespace llmq {

// Registers the loader with load_model(). It must come before the plain
// GPTQ/AWQ/compressed-tensors loader (register_hf_quant_loaders), which
// would otherwise take pack-quantized checkpoints without their runtime scheme.
void register_ct_lowbit_loader();

// nullptr when `path` is not a directory holding one of these checkpoints.
// Throws llmq::Error naming the file for a damaged one, or for a scheme
// whose runtime quantization we cannot simulate (say, FP4 activations).
// With opt.lazy, linears are decoded one at a time when first used (model/decoded_rows.h).
std::unique_ptr<LoadedModel> load_ct_lowbit_model(const std::string& path, const LoadOptions& opt = {});

}  // namespace llmq
