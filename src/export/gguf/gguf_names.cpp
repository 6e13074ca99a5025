#include "export/gguf/gguf_names.h"

#include <fmt/format.h>

#include "util/error.h"

namespace llmq {

std::string gguf_arch_name(const ModelConfig& cfg) {
  switch (cfg.arch) {
    case Arch::Llama:
    case Arch::Mistral:  // llama.cpp runs mistral and mixtral checkpoints as "llama"
    case Arch::Mixtral:
      return "llama";
    case Arch::Qwen2: return "qwen2";
    case Arch::Qwen3: return "qwen3";
    case Arch::Qwen3Moe: return "qwen3moe";
  }
  return "llama";
}

std::string gguf_tensor_name(const NamedTensor& t) {
  const std::string& n = t.name;
  if (t.layer < 0) {
    if (t.role == TensorRole::TokenEmbedding) return "token_embd.weight";
    if (t.role == TensorRole::Output) return "output.weight";
    if (n == "model.norm.weight") return "output_norm.weight";
    fail("no GGUF name for tensor {}", n);
  }
  const std::string blk = fmt::format("blk.{}.", t.layer);
  auto ends = [&](const char* s) { return n.size() >= std::string_view(s).size() && n.ends_with(s); };
  if (t.expert >= 0) {
    switch (t.role) {
      case TensorRole::FfnGate: return blk + "ffn_gate_exps.weight";
      case TensorRole::FfnUp: return blk + "ffn_up_exps.weight";
      case TensorRole::FfnDown: return blk + "ffn_down_exps.weight";
      default: break;
    }
  }
  switch (t.role) {
    case TensorRole::AttnQ: return blk + "attn_q.weight";
    case TensorRole::AttnK: return blk + "attn_k.weight";
    case TensorRole::AttnV: return blk + "attn_v.weight";
    case TensorRole::AttnO: return blk + "attn_output.weight";
    case TensorRole::FfnGate: return blk + "ffn_gate.weight";
    case TensorRole::FfnUp: return blk + "ffn_up.weight";
    case TensorRole::FfnDown: return blk + "ffn_down.weight";
    case TensorRole::Router: return blk + "ffn_gate_inp.weight";
    case TensorRole::Bias:
      if (ends("q_proj.bias")) return blk + "attn_q.bias";
      if (ends("k_proj.bias")) return blk + "attn_k.bias";
      if (ends("v_proj.bias")) return blk + "attn_v.bias";
      if (ends("o_proj.bias")) return blk + "attn_output.bias";
      break;
    case TensorRole::Norm:
      if (ends("input_layernorm.weight")) return blk + "attn_norm.weight";
      if (ends("post_attention_layernorm.weight")) return blk + "ffn_norm.weight";
      if (ends("q_norm.weight")) return blk + "attn_q_norm.weight";
      if (ends("k_norm.weight")) return blk + "attn_k_norm.weight";
      break;
    default: break;
  }
  fail("no GGUF name for tensor {}", n);
}

}  // namespace llmq
