#pragma once
// The four Hugging Face-style layouts for integer-quantized checkpoints, and
// what each can hold:
//   gptq                GPTQ v1 (AutoGPTQ / GPTQModel "gptq" checkpoint_format): vLLM, transformers
//   awq                 AutoAWQ GEMM: vLLM, transformers
//   compressed-tensors  pack-quantized (llm-compressor): vLLM, transformers
//   mlx                 mlx-lm affine quantization
#include <map>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "quant/formats/intq/int_quant_spec.h"
#include "quant/methods/gptq.h"

namespace llmq {

enum class HfQuantFormat { Gptq, Awq, CompressedTensors, Mlx };

const char* hf_quant_format_name(HfQuantFormat f);
HfQuantFormat parse_hf_quant_format(const std::string& s);  // throws llmq::Error

// The spec as the format must store it (scale precision; GPTQ v1's zero >= 1).
// Throws llmq::Error naming the format when it cannot hold the requested
// bits / group size / act-order groups.
// `source`: the checkpoint's float type (MLX stores scales and biases in bf16 for a bf16 model).
IntQuantSpec spec_for_format(HfQuantFormat f, IntQuantSpec spec, const GptqOptions& gptq, bool act_order_used,
                             DType source = DType::F16);

// The part of spec_for_format that depends on the source's float type.
IntQuantSpec spec_for_source(HfQuantFormat f, IntQuantSpec spec, DType source);

// Bit widths the format can store, ascending.
std::vector<int> format_bit_widths(HfQuantFormat f);

// Throws llmq::Error when the format cannot record per-linear bit widths
// (`linear_bits`, weight name -> bits) the way its consumers read them, or
// cannot store one of the widths.
void check_linear_bits_for_format(HfQuantFormat f, const std::map<std::string, int>& linear_bits);

}  // namespace llmq
