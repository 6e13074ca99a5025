#include "export/gguf/gguf_model_metadata.h"

#include "export/gguf/gguf_names.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace llmq {

std::string gguf_arch_key(const std::string& arch, const char* suffix) { return arch + "." + suffix; }

namespace {

uint32_t u32(int64_t v, const char* what) {
  if (v < 0 || v > int64_t(UINT32_MAX)) fail("{} = {} does not fit a GGUF uint32", what, v);
  return uint32_t(v);
}

void add_hyperparameters(GgufMetadata& m, const ModelConfig& c, const std::string& arch) {
  auto key = [&](const char* s) { return gguf_arch_key(arch, s); };
  m.set(key("vocab_size"), u32(c.vocab, "vocab_size"));
  m.set(key("context_length"), u32(c.max_positions, "max_position_embeddings"));
  m.set(key("embedding_length"), u32(c.hidden, "hidden_size"));
  m.set(key("block_count"), u32(c.n_layers, "num_hidden_layers"));
  if (c.ffn > 0) m.set(key("feed_forward_length"), u32(c.ffn, "intermediate_size"));
  m.set(key("attention.head_count"), u32(c.n_heads, "num_attention_heads"));
  m.set(key("attention.head_count_kv"), u32(c.n_kv_heads, "num_key_value_heads"));
  m.set(key("rope.freq_base"), float(c.rope_theta));
  m.set(key("attention.layer_norm_rms_epsilon"), float(c.rms_eps));
  // llama.cpp assumes hidden/heads without these; qwen3 configs always state head_dim and the converter copies it.
  if (c.head_dim * c.n_heads != c.hidden || c.arch == Arch::Qwen3 || c.arch == Arch::Qwen3Moe) {
    m.set(key("attention.key_length"), u32(c.head_dim, "head_dim"));
    m.set(key("attention.value_length"), u32(c.head_dim, "head_dim"));
  }
  m.set(key("rope.dimension_count"), u32(c.head_dim, "head_dim"));
  if (c.rope_scaling.type == "linear") {
    m.set(key("rope.scaling.type"), "linear");
    m.set(key("rope.scaling.factor"), float(c.rope_scaling.factor));
  }
  // llama3 scaling travels as the rope_freqs tensor, as in llama.cpp's converter.
  if (c.is_moe()) {
    m.set(key("expert_count"), u32(c.n_experts, "num_experts"));
    m.set(key("expert_used_count"), u32(c.n_experts_used, "num_experts_per_tok"));
    if (c.arch == Arch::Qwen3Moe) {
      m.set(key("expert_feed_forward_length"), u32(c.moe_ffn, "moe_intermediate_size"));
      // llama.cpp's qwen3moe always renormalises the top-k weights and does
      // not read this; we write it so a model without renormalisation loads
      // back correctly in our own loader.
      m.set(key("expert_weights_norm"), c.norm_topk_prob);
    }
  }
}

void add_tokenizer(GgufMetadata& m, const Tokenizer& tok) {
  const GgufVocab& v = tok.gguf_vocab();
  m.set("tokenizer.ggml.model", v.model);
  m.set("tokenizer.ggml.pre", v.pre.empty() ? std::string("default") : v.pre);
  m.set("tokenizer.ggml.tokens", v.tokens);
  if (!v.scores.empty()) m.set("tokenizer.ggml.scores", v.scores);
  std::vector<int32_t> types(v.types.size());
  for (size_t i = 0; i < v.types.size(); ++i) types[i] = int32_t(v.types[i]);
  m.set("tokenizer.ggml.token_type", std::move(types));
  if (!v.merges.empty()) m.set("tokenizer.ggml.merges", v.merges);
  if (v.add_space_prefix) m.set("tokenizer.ggml.add_space_prefix", *v.add_space_prefix);
  auto id = [&](const char* key, std::optional<int32_t> value) {
    if (value && *value >= 0) m.set(key, uint32_t(*value));
  };
  id("tokenizer.ggml.bos_token_id", tok.bos_id());
  id("tokenizer.ggml.eos_token_id", tok.eos_id());
  id("tokenizer.ggml.unknown_token_id", tok.unk_id());
  id("tokenizer.ggml.padding_token_id", tok.pad_id());
  // Written even when false: llama.cpp adds BOS to "llama" vocabularies by default.
  m.set("tokenizer.ggml.add_bos_token", tok.add_bos());
  m.set("tokenizer.ggml.add_eos_token", tok.add_eos());
  if (v.chat_template) m.set("tokenizer.chat_template", *v.chat_template);
}

}  // namespace

GgufMetadata gguf_model_metadata(const ModelConfig& cfg, const Tokenizer& tokenizer, const std::string& model_name,
                                 uint32_t file_type) {
  if (tokenizer.vocab_size() != cfg.vocab)
    fail("the tokenizer has {} tokens but the model's vocab_size is {}", tokenizer.vocab_size(), cfg.vocab);
  const std::string arch = gguf_arch_name(cfg);
  GgufMetadata m;
  m.set("general.architecture", arch);
  m.set("general.type", "model");
  m.set("general.name", model_name);
  add_hyperparameters(m, cfg, arch);
  m.set("general.file_type", file_type);
  m.set("general.quantization_version", uint32_t(2));
  add_tokenizer(m, tokenizer);
  return m;
}

}  // namespace llmq
