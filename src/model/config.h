#pragma once
// Model hyper-parameters read from a Hugging Face config.json, normalised
// across architectures and across the transformers 4 / 5 spellings.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace llmq {

enum class Arch { Llama, Mistral, Qwen2, Qwen3, Qwen3Moe, Mixtral };

const char* arch_name(Arch a);  // HF model_type spelling

struct RopeScaling {
  std::string type = "default";  // default | linear | llama3
  double factor = 1.0;
  double low_freq_factor = 1.0, high_freq_factor = 4.0;  // llama3
  int64_t original_max_position = 8192;                   // llama3
};

struct ModelConfig {
  Arch arch = Arch::Llama;
  std::string model_type;  // as written in config.json
  int64_t hidden = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, head_dim = 0;
  int64_t ffn = 0;  // dense MLP intermediate size
  int64_t vocab = 0;
  int64_t max_positions = 2048;
  double rms_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_embeddings = false;
  bool qkv_bias = false;  // qwen2, or attention_bias=true
  bool o_bias = false;    // attention_bias=true on llama-style models
  bool qk_norm = false;   // qwen3 per-head RMSNorm on q and k

  // Mixture of experts (qwen3_moe, mixtral)
  int64_t n_experts = 0, n_experts_used = 0, moe_ffn = 0;
  bool norm_topk_prob = true;
  int64_t decoder_sparse_step = 1;
  std::vector<int64_t> mlp_only_layers;

  std::optional<int64_t> bos_id, eos_id;

  bool is_moe() const { return n_experts > 0; }
  bool layer_is_moe(int64_t layer) const;
  int64_t q_dim() const { return n_heads * head_dim; }
  int64_t kv_dim() const { return n_kv_heads * head_dim; }

  // Parses config.json content; `path` is used in error messages.
  static ModelConfig from_json(const nlohmann::json& j, const std::string& path);

  // Throws llmq::Error naming `path` for values no model has: sizes out of
  // range (checked before anything is allocated from them), a non-positive or
  // non-finite rope_theta or rope factor, a negative or non-finite RMSNorm
  // epsilon. Both config.json and GGUF metadata go through it.
  void check(const std::string& path) const;
};

}  // namespace llmq
