#include "export/gguf/gguf_model_config.h"

#include <fmt/format.h>

#include "export/gguf/gguf_names.h"
#include "export/gguf/llama3_rope_factors.h"
#include "quant/formats/ggml/ggml_quants.h"
#include "util/error.h"

namespace llmq {

namespace {

std::vector<float> tensor_as_f32(const GgufReader& g, const GgufTensorInfo& t) {
  std::vector<float> v(size_t(t.n_elements()));
  ggml::dequantize_row(t.type, t.data, v.data(), t.n_elements());
  return v;
}

}  // namespace

ModelConfig model_config_from_gguf(const GgufReader& g) {
  const std::string arch = g.get<std::string>("general.architecture");
  auto key = [&](const char* s) { return arch + "." + s; };
  auto req = [&](const char* s) {
    const int64_t v = g.get_int(key(s));
    if (v <= 0) throw file_error(g.path(), fmt::format("metadata key '{}' must be positive", key(s)));
    return v;
  };
  auto opt_int = [&](const char* s, int64_t dflt) { return g.get_int_optional(key(s)).value_or(dflt); };
  auto opt_float = [&](const char* s, double dflt) {
    const GgufValue* v = g.find(key(s));
    return v ? v->to_double() : dflt;
  };

  ModelConfig c;
  const int64_t n_experts = opt_int("expert_count", 0);
  if (arch == "llama") c.arch = n_experts > 0 ? Arch::Mixtral : Arch::Llama;
  else if (arch == "qwen2") c.arch = Arch::Qwen2;
  else if (arch == "qwen3") c.arch = Arch::Qwen3;
  else if (arch == "qwen3moe") c.arch = Arch::Qwen3Moe;
  else
    throw file_error(g.path(), "unsupported general.architecture '" + arch + "' (supported: llama, qwen2, qwen3, qwen3moe)");
  c.model_type = arch_name(c.arch);

  c.hidden = req("embedding_length");
  c.n_layers = req("block_count");
  c.n_heads = req("attention.head_count");
  c.n_kv_heads = opt_int("attention.head_count_kv", c.n_heads);
  c.head_dim = opt_int("attention.key_length", c.hidden / c.n_heads);
  if (opt_int("attention.value_length", c.head_dim) != c.head_dim)
    throw file_error(g.path(), "attention.key_length and attention.value_length differ");
  c.ffn = opt_int("feed_forward_length", 0);
  c.max_positions = opt_int("context_length", 2048);
  c.rms_eps = opt_float("attention.layer_norm_rms_epsilon", 1e-6);
  c.rope_theta = opt_float("rope.freq_base", 10000.0);

  const GgufTensorInfo* embd = g.find_tensor("token_embd.weight");
  if (!embd || embd->shape.size() != 2) throw file_error(g.path(), "no 2-D tensor token_embd.weight");
  c.vocab = opt_int("vocab_size", embd->shape[1]);

  const std::string scaling = g.get_optional<std::string>(key("rope.scaling.type")).value_or("none");
  const double scale = opt_float("rope.scaling.factor", 0.0);
  if (scaling == "linear" && scale != 0.0 && scale != 1.0) {
    c.rope_scaling.type = "linear";
    c.rope_scaling.factor = scale;
  } else if (scaling != "none" && scaling != "linear") {
    throw file_error(g.path(), "unsupported rope scaling type '" + scaling + "'");
  }
  if (const GgufTensorInfo* freqs = g.find_tensor(gguf_rope_freqs_name())) {
    c.rope_scaling = llama3_scaling_from_factors(tensor_as_f32(g, *freqs), c.rope_theta, c.head_dim,
                                                 opt_int("rope.scaling.original_context_length", 8192));
  }

  c.tie_embeddings = g.find_tensor("output.weight") == nullptr;
  c.qkv_bias = g.find_tensor("blk.0.attn_q.bias") != nullptr;
  c.o_bias = g.find_tensor("blk.0.attn_output.bias") != nullptr;
  c.qk_norm = g.find_tensor("blk.0.attn_q_norm.weight") != nullptr;

  if (n_experts > 0) {
    c.n_experts = n_experts;
    c.n_experts_used = req("expert_used_count");
    c.moe_ffn = opt_int("expert_feed_forward_length", c.ffn);
    c.norm_topk_prob = g.get_optional<bool>(key("expert_weights_norm")).value_or(true);
    for (int64_t l = 0; l < c.n_layers; ++l)
      if (!g.find_tensor(fmt::format("blk.{}.ffn_gate_inp.weight", l))) c.mlp_only_layers.push_back(l);
    if (c.moe_ffn <= 0) throw file_error(g.path(), "no expert_feed_forward_length for an MoE model");
  }
  if (auto bos = g.get_int_optional("tokenizer.ggml.bos_token_id")) c.bos_id = *bos;
  if (auto eos = g.get_int_optional("tokenizer.ggml.eos_token_id")) c.eos_id = *eos;
  c.check(g.path());
  // block_count must be the blocks the file holds: a corrupted count would otherwise size everything after it.
  if (!g.find_tensor(fmt::format("blk.{}.attn_norm.weight", c.n_layers - 1)) ||
      g.find_tensor(fmt::format("blk.{}.attn_norm.weight", c.n_layers)))
    throw file_error(g.path(), fmt::format("block_count is {}, but the file's tensors are of another number of blocks", c.n_layers));
  return c;
}

}  // namespace llmq
