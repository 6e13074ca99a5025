#include "model/config.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "util/error.h"

namespace llmq {

const char* arch_name(Arch a) {
  switch (a) {
    case Arch::Llama: return "llama";
    case Arch::Mistral: return "mistral";
    case Arch::Qwen2: return "qwen2";
    case Arch::Qwen3: return "qwen3";
    case Arch::Qwen3Moe: return "qwen3_moe";
    case Arch::Mixtral: return "mixtral";
  }
  return "?";
}

bool ModelConfig::layer_is_moe(int64_t layer) const {
  if (!is_moe()) return false;
  if (std::find(mlp_only_layers.begin(), mlp_only_layers.end(), layer) != mlp_only_layers.end()) return false;
  return decoder_sparse_step <= 1 || (layer + 1) % decoder_sparse_step == 0;
}

namespace {

int64_t req_int(const nlohmann::json& j, const char* key, const std::string& path) {
  if (!j.contains(key) || !j[key].is_number_integer())
    throw file_error(path, std::string("missing or non-integer \"") + key + "\"");
  int64_t v = j[key].get<int64_t>();
  if (v <= 0) throw file_error(path, std::string("\"") + key + "\" must be positive");
  return v;
}

template <typename T>
T opt(const nlohmann::json& j, const char* key, T dflt) {
  if (j.contains(key) && !j[key].is_null()) {
    try { return j[key].get<T>(); } catch (...) {}
  }
  return dflt;
}

std::optional<int64_t> opt_id(const nlohmann::json& j, const char* key) {
  if (!j.contains(key)) return std::nullopt;
  const auto& v = j[key];
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_array() && !v.empty() && v[0].is_number_integer()) return v[0].get<int64_t>();
  return std::nullopt;
}

RopeScaling parse_rope_scaling(const nlohmann::json& rs, const std::string& path) {
  RopeScaling r;
  if (!rs.is_object()) return r;
  r.type = opt<std::string>(rs, "rope_type", opt<std::string>(rs, "type", "default"));
  r.factor = opt<double>(rs, "factor", 1.0);
  r.low_freq_factor = opt<double>(rs, "low_freq_factor", 1.0);
  r.high_freq_factor = opt<double>(rs, "high_freq_factor", 4.0);
  r.original_max_position = opt<int64_t>(rs, "original_max_position_embeddings", 8192);
  if (r.type != "default" && r.type != "linear" && r.type != "llama3")
    throw file_error(path, "unsupported rope scaling type '" + r.type + "' (supported: default, linear, llama3)");
  return r;
}

}  // namespace

ModelConfig ModelConfig::from_json(const nlohmann::json& j, const std::string& path) {
  ModelConfig c;
  if (!j.is_object()) throw file_error(path, "config is not a JSON object");
  c.model_type = opt<std::string>(j, "model_type", "");
  const std::string& mt = c.model_type;
  if (mt == "llama") c.arch = Arch::Llama;
  else if (mt == "mistral") c.arch = Arch::Mistral;
  else if (mt == "qwen2") c.arch = Arch::Qwen2;
  else if (mt == "qwen3") c.arch = Arch::Qwen3;
  else if (mt == "qwen3_moe") c.arch = Arch::Qwen3Moe;
  else if (mt == "mixtral") c.arch = Arch::Mixtral;
  else
    throw file_error(path, "unknown architecture model_type '" + mt +
                               "' (supported: llama, mistral, qwen2, qwen3, qwen3_moe, mixtral)");

  c.hidden = req_int(j, "hidden_size", path);
  c.n_layers = req_int(j, "num_hidden_layers", path);
  c.n_heads = req_int(j, "num_attention_heads", path);
  c.n_kv_heads = opt<int64_t>(j, "num_key_value_heads", c.n_heads);
  c.head_dim = opt<int64_t>(j, "head_dim", c.hidden / c.n_heads);
  c.vocab = req_int(j, "vocab_size", path);
  c.max_positions = opt<int64_t>(j, "max_position_embeddings", 2048);
  c.rms_eps = opt<double>(j, "rms_norm_eps", 1e-6);
  c.tie_embeddings = opt<bool>(j, "tie_word_embeddings", false);
  if (c.n_kv_heads <= 0 || c.n_heads % c.n_kv_heads != 0)
    throw file_error(path, "num_attention_heads must be a multiple of num_key_value_heads");
  if (c.head_dim <= 0 || c.head_dim % 2 != 0) throw file_error(path, "head_dim must be positive and even");

  // transformers 5 moved rope settings into rope_parameters; 4 has rope_theta / rope_scaling at top level.
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) {
    const auto& rp = j["rope_parameters"];
    c.rope_theta = opt<double>(rp, "rope_theta", opt<double>(j, "rope_theta", 10000.0));
    c.rope_scaling = parse_rope_scaling(rp, path);
  } else {
    c.rope_theta = opt<double>(j, "rope_theta", 10000.0);
    if (j.contains("rope_scaling")) c.rope_scaling = parse_rope_scaling(j["rope_scaling"], path);
  }

  const bool attention_bias = opt<bool>(j, "attention_bias", false);
  c.qkv_bias = c.arch == Arch::Qwen2 || attention_bias;
  c.o_bias = attention_bias && c.arch != Arch::Qwen2;
  c.qk_norm = c.arch == Arch::Qwen3 || c.arch == Arch::Qwen3Moe;

  if (c.arch == Arch::Qwen3Moe || c.arch == Arch::Mixtral) {
    // transformers 5 spells it num_local_experts for qwen3_moe too; 4 used num_experts.
    c.n_experts = opt<int64_t>(j, "num_local_experts", opt<int64_t>(j, "num_experts", 0));
    c.n_experts_used = opt<int64_t>(j, "num_experts_per_tok", 2);
    if (c.n_experts <= 0) throw file_error(path, "MoE config has no num_experts / num_local_experts");
    if (c.n_experts_used <= 0 || c.n_experts_used > c.n_experts)
      throw file_error(path, "num_experts_per_tok must be between 1 and the number of experts");
    if (c.arch == Arch::Mixtral) {
      c.moe_ffn = req_int(j, "intermediate_size", path);
      c.norm_topk_prob = true;  // mixtral always renormalises its top-k
    } else {
      c.moe_ffn = req_int(j, "moe_intermediate_size", path);
      c.norm_topk_prob = opt<bool>(j, "norm_topk_prob", true);
      c.decoder_sparse_step = opt<int64_t>(j, "decoder_sparse_step", 1);
      c.mlp_only_layers = opt<std::vector<int64_t>>(j, "mlp_only_layers", {});
    }
  }
  c.ffn = opt<int64_t>(j, "intermediate_size", 0);
  if (!c.is_moe() && c.ffn <= 0) throw file_error(path, "missing or non-positive \"intermediate_size\"");
  c.bos_id = opt_id(j, "bos_token_id");
  c.eos_id = opt_id(j, "eos_token_id");
  c.check(path);
  return c;
}

void ModelConfig::check(const std::string& path) const {
  // Far beyond any published model, small enough that the per-layer and
  // per-expert bookkeeping sized from them stays small for a corrupt file.
  auto in_range = [&](const char* what, int64_t v, int64_t lo, int64_t hi) {
    if (v < lo || v > hi) throw file_error(path, fmt::format("{} = {} is out of range ({}..{})", what, v, lo, hi));
  };
  in_range("hidden size", hidden, 1, int64_t(1) << 18);
  in_range("layer count", n_layers, 1, 4096);
  in_range("attention heads", n_heads, 1, 4096);
  in_range("key/value heads", n_kv_heads, 1, n_heads);
  in_range("head dim", head_dim, 2, 8192);
  in_range("vocabulary size", vocab, 1, int64_t(1) << 24);
  in_range("context length", max_positions, 1, int64_t(1) << 30);
  if (!is_moe()) in_range("MLP width", ffn, 1, int64_t(1) << 20);
  if (is_moe()) {
    in_range("experts", n_experts, 1, 4096);
    in_range("experts per token", n_experts_used, 1, n_experts);
    in_range("expert MLP width", moe_ffn, 1, int64_t(1) << 20);
  }
  auto positive = [&](const char* what, double v) {
    if (!std::isfinite(v) || !(v > 0)) throw file_error(path, fmt::format("{} = {} must be a positive number", what, v));
  };
  positive("rope_theta", rope_theta);
  if (!std::isfinite(rms_eps) || rms_eps < 0)
    throw file_error(path, fmt::format("rms_norm_eps = {} must be a non-negative number", rms_eps));
  if (rope_scaling.type != "default") positive("rope scaling factor", rope_scaling.factor);
  if (rope_scaling.type == "llama3") {
    positive("rope scaling low_freq_factor", rope_scaling.low_freq_factor);
    positive("rope scaling high_freq_factor", rope_scaling.high_freq_factor);
    if (!(rope_scaling.high_freq_factor > rope_scaling.low_freq_factor))
      throw file_error(path, "rope scaling high_freq_factor must exceed low_freq_factor");
    in_range("rope scaling original_max_position_embeddings", rope_scaling.original_max_position, 1, int64_t(1) << 30);
  }
}

}  // namespace llmq
