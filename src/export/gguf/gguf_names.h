#pragma once
// llama.cpp's names for our tensors ("blk.3.attn_q.weight", ...). Importance
// matrices, GGUF export and the GGUF loader all key tensors by these names,
// so that our files and llama.cpp's tools are interchangeable.
#include <string>

#include "model/weights.h"

namespace llmq {

// GGUF name of a tensor. MoE experts map to the stacked 3-D tensor of their
// layer ("blk.N.ffn_gate_exps.weight"), shared by all experts of the layer.
std::string gguf_tensor_name(const NamedTensor& t);

// llama.cpp's architecture name for a model ("llama", "qwen2", "qwen3", "qwen3moe").
std::string gguf_arch_name(const ModelConfig& cfg);

// The llama3 rope scaling factors tensor, one value per rotated pair.
inline const char* gguf_rope_freqs_name() { return "rope_freqs.weight"; }

}  // namespace llmq
