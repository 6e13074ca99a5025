#pragma once
// The compressed-tensors quantization_config of a low-bit scheme, field for
// field as llm-compressor serializes compressed-tensors' QuantizationConfig /
// QuantizationScheme / QuantizationArgs and vLLM's CompressedTensorsConfig
// reads them (compressed_tensors/quantization/quant_args.py, quant_scheme.py,
// quant_config.py; vllm/.../compressed_tensors/compressed_tensors.py).
//
// QuantizationArgs carries the fields every release since 0.9 accepts
// (num_bits, type, symmetric, group_size, strategy, block_structure, dynamic,
// actorder, observer, observer_kwargs). scale_dtype / zp_dtype are left out:
// releases from Aug to Nov 2025 reject unknown fields, and every reader
// infers them (E4M3 group scales for NVFP4, uint8 exponents for MXFP4).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "export/hf/lowbit_scheme.h"

namespace llmq {

// `ignore`: module names kept in floating point (lm_head, MoE routers).
nlohmann::json lowbit_quantization_config(const LowbitScheme& s, const std::vector<std::string>& ignore);

// The kv_cache_scheme vLLM accepts: 8-bit float, per tensor, symmetric, static.
nlohmann::json fp8_kv_cache_scheme();

}  // namespace llmq
