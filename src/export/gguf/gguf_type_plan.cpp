#include "export/gguf/gguf_type_plan.h"

#include <algorithm>
#include <iterator>
#include <cstdio>
#include <numeric>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "distributed/cluster.h"
#include "util/error.h"
#include "util/user_regex.h"

namespace llmq {

namespace {

using ggml::GgmlType;
using P = GgufPreset;

// llama-quantize's broad tensor categories, found by name.
enum class Category { TokenEmbd, Output, AttnQ, AttnK, AttnV, AttnOutput, FfnUp, FfnGate, FfnDown, Other };

Category category_of(const std::string& name) {
  auto has = [&](const char* s) { return name.find(s) != std::string::npos; };
  if (name == "output.weight") return Category::Output;
  if (name == "token_embd.weight") return Category::TokenEmbd;
  if (has("attn_v.weight")) return Category::AttnV;
  if (has("attn_k.weight")) return Category::AttnK;
  if (has("attn_q.weight")) return Category::AttnQ;
  if (has("attn_output.weight")) return Category::AttnOutput;
  if (has("ffn_up")) return Category::FfnUp;
  if (has("ffn_gate")) return Category::FfnGate;
  if (has("ffn_down")) return Category::FfnDown;
  return Category::Other;
}

bool is_quantized(GgmlType t) { return ggml::block_size(t) > 1; }

// ggml_n_dims: dimensions up to the last one larger than 1.
int n_dims(const std::vector<int64_t>& ne) {
  int n = 1;
  for (size_t i = 0; i < ne.size(); ++i)
    if (ne[i] > 1) n = int(i) + 1;
  return n;
}

// The first and last eighth of the layers, and every third layer between.
bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

int layer_of(const std::string& name) {
  int layer = -1;
  if (std::sscanf(name.c_str(), "blk.%d.", &layer) != 1) return -1;
  return layer;
}

// llama.cpp's llm_type 70B (which gets more bits on attn_v): llama with 80
// layers and grouped KV heads, qwen2 with 80 layers.
bool is_70b_class(const ModelConfig& cfg) {
  if (cfg.n_layers != 80) return false;
  if (cfg.arch == Arch::Qwen2) return true;
  const bool llama_arch = cfg.arch == Arch::Llama || cfg.arch == Arch::Mistral || cfg.arch == Arch::Mixtral;
  return llama_arch && cfg.n_experts != 8 && cfg.n_heads != cfg.n_kv_heads;
}

class TypePlanner {
 public:
  TypePlanner(const ModelConfig& cfg, const std::vector<GgufTensorSpec>& layout, const GgufQuantOptions& opt,
              GgmlType source_type)
      : cfg_(cfg), opt_(opt), source_type_(source_type), default_type_(preset_info(opt.preset).default_type) {
    for (const auto& [pattern, type] : opt.tensor_types) {
      try {
        patterns_.emplace_back(UserRegex(pattern), type);
      } catch (const Error& e) {
        fail("--tensor-type: {}", e.what());
      }
    }
    for (const GgufTensorSpec& s : layout) {
      if (category_of(s.name) == Category::AttnV) ++n_attention_wv_;
      if (category_of(s.name) == Category::Output) tied_ = false;
    }
    n_layers_ = int(cfg.n_layers);
  }

  TensorTypeChoice choose(const GgufTensorSpec& s) {
    TensorTypeChoice c;
    const Category cat = category_of(s.name);
    if (!allows_quantization(s)) {
      c.type = n_dims(s.ne) >= 2 && s.name.find("ffn_gate_inp") == std::string::npos ? source_type_ : GgmlType::F32;
      return c;
    }
    c.quantizable = true;
    if (auto it = opt_.tensor_type_by_name.find(s.name); it != opt_.tensor_type_by_name.end()) {
      c.type = it->second;
      c.note = "dynamic allocation";
      if (s.ne[0] % ggml::block_size(c.type) != 0)
        fail("tensor {}: row length {} is not a multiple of {}'s block size {}", s.name, s.ne[0],
             ggml::type_name(c.type), ggml::block_size(c.type));
      return c;
    }
    if (opt_.token_embedding_type && cat == Category::TokenEmbd) {
      c.type = *opt_.token_embedding_type;
      c.note = "--token-embedding-type";
      return c;
    }
    if (opt_.output_tensor_type && cat == Category::Output) {
      c.type = *opt_.output_tensor_type;
      c.note = "--output-tensor-type";
      return c;
    }
    GgmlType t = default_type_;
    if (is_quantized(default_type_)) {
      bool manual = false;
      for (const auto& [re, type] : patterns_) {
        if (re.search(s.name)) {
          t = type;
          c.note = "--tensor-type";
          manual = true;
          break;
        }
      }
      if (!manual && !opt_.pure) {
        t = mixture_rule(t, s, cat);
        if (t != default_type_) c.note = "preset rule";
      }
      const GgmlType before = t;
      t = fallback(t, s);
      if (t != before)
        c.note = fmt::format("fallback from {}: row length {} is not a multiple of {}", ggml::type_name(before),
                             s.ne[0], ggml::block_size(before));
    }
    c.type = t;
    return c;
  }

 private:
  bool allows_quantization(const GgufTensorSpec& s) const {
    if (n_dims(s.ne) < 2) return false;
    const std::string& n = s.name;
    if (!n.ends_with("weight")) return false;
    if (n.find("_norm.weight") != std::string::npos) return false;
    if (opt_.leave_output_tensor && n == "output.weight") return false;
    if (n.find("ffn_gate_inp.weight") != std::string::npos) return false;
    return true;
  }

  // Layer index and count for the by-layer rules. llama.cpp counts tensors
  // of the category in its (layer-sorted) order for dense models and parses
  // the name for MoE models; both give the block index here.
  std::pair<int, int> layer_info(int counter, const std::string& name) const {
    if (cfg_.n_experts > 1) {
      const int l = layer_of(name);
      if (l < 0 || l >= n_layers_) fail("cannot determine the layer of tensor {}", name);
      return {l, n_layers_};
    }
    return {counter, n_layers_};
  }

  GgmlType mixture_rule(GgmlType t, const GgufTensorSpec& s, Category cat) {
    const P p = opt_.preset;
    const int64_t n_gqa = cfg_.n_heads / std::max<int64_t>(1, cfg_.n_kv_heads);
    const bool eight_experts = cfg_.n_experts == 8;
    if (cat == Category::Output || (tied_ && cat == Category::TokenEmbd)) {
      if (opt_.output_tensor_type) return *opt_.output_tensor_type;
      if (s.ne[0] % ggml::block_size(t) != 0) return GgmlType::Q8_0;
      if (is_two_bit_or_less(p) || p == P::IQ3_XXS) return GgmlType::Q5_K;
      return t != GgmlType::Q8_0 ? GgmlType::Q6_K : t;
    }
    if (cat == Category::TokenEmbd) {  // untied
      if (p == P::IQ2_XXS || p == P::IQ2_XS || p == P::IQ1_S || p == P::IQ1_M) return GgmlType::Q2_K;
      if (p == P::IQ2_S || p == P::IQ2_M || p == P::IQ3_XXS) return GgmlType::IQ3_S;
      if (p == P::TQ1_0 || p == P::TQ2_0) return GgmlType::Q4_K;
      return t;
    }
    if (is_two_bit_or_less(p)) return two_bit_rule(t, cat);
    switch (cat) {
      case Category::AttnV: {
        const int i = i_attention_wv_;
        if (p == P::Q2_K) t = n_gqa >= 4 ? GgmlType::Q4_K : GgmlType::Q3_K;
        else if (p == P::IQ3_XXS) t = n_gqa >= 4 ? GgmlType::Q4_K : opt_.has_imatrix ? GgmlType::IQ3_XXS : GgmlType::IQ3_S;
        else if ((p == P::IQ3_XS || p == P::IQ3_S) && n_gqa >= 4) t = GgmlType::Q4_K;
        else if (p == P::IQ3_M) t = GgmlType::Q4_K;
        else if (p == P::Q3_K_M) t = i < 2 ? GgmlType::Q5_K : GgmlType::Q4_K;
        else if (p == P::Q3_K_L) t = GgmlType::Q5_K;
        else if ((p == P::IQ4_NL || p == P::IQ4_XS) && n_gqa >= 4) t = GgmlType::Q5_K;
        else if ((p == P::Q4_K_M || p == P::Q5_K_M) && use_more_bits(i, n_attention_wv_)) t = GgmlType::Q6_K;
        else if (p == P::Q4_K_S && i < 4) t = GgmlType::Q5_K;
        if (is_70b_class(cfg_) && (t == GgmlType::Q3_K || t == GgmlType::Q4_K)) t = GgmlType::Q5_K;
        if (eight_experts) t = GgmlType::Q8_0;
        ++i_attention_wv_;
        break;
      }
      case Category::AttnK:
        if (eight_experts) t = GgmlType::Q8_0;
        else if (p == P::IQ3_XS) t = GgmlType::IQ3_XXS;
        else if (p == P::IQ3_XXS) t = GgmlType::IQ2_S;
        break;
      case Category::AttnQ:
        if (p == P::IQ3_XS) t = GgmlType::IQ3_XXS;
        else if (p == P::IQ3_XXS) t = GgmlType::IQ2_S;
        break;
      case Category::FfnDown: {
        auto [i, n] = layer_info(i_ffn_down_, s.name);
        if (p == P::Q2_K) t = GgmlType::Q3_K;
        else if (p == P::IQ3_XXS && !opt_.has_imatrix) t = i < n / 8 ? GgmlType::Q4_K : GgmlType::Q3_K;
        else if (p == P::Q3_K_M) t = i < n / 16 ? GgmlType::Q5_K : GgmlType::Q4_K;
        else if (p == P::IQ3_M && (i < n / 8 || (eight_experts && use_more_bits(i, n)))) t = GgmlType::Q4_K;
        else if (p == P::Q3_K_L) t = GgmlType::Q5_K;
        else if (p == P::Q4_K_M) { if (use_more_bits(i, n)) t = GgmlType::Q6_K; }
        else if (i < n / 8 && (p == P::IQ4_NL || p == P::IQ4_XS) && !opt_.has_imatrix) t = GgmlType::Q5_K;
        else if (p == P::Q5_K_M && use_more_bits(i, n)) t = GgmlType::Q6_K;
        else if (p == P::Q4_K_S && i < n / 8) t = GgmlType::Q5_K;
        else if ((p == P::Q4_0 || p == P::Q5_0) && opt_.has_imatrix && i < n / 8)
          t = p == P::Q4_0 ? GgmlType::Q4_1 : GgmlType::Q5_1;
        ++i_ffn_down_;
        break;
      }
      case Category::AttnOutput:
        if (eight_experts) {
          static constexpr P kBumped[] = {P::Q2_K,   P::IQ3_XS, P::IQ3_XXS, P::Q3_K_S, P::Q3_K_M, P::IQ4_NL,
                                          P::Q4_K_S, P::Q4_K_M, P::IQ3_S,   P::IQ3_M,  P::IQ4_XS};
          if (std::find(std::begin(kBumped), std::end(kBumped), p) != std::end(kBumped)) t = GgmlType::Q5_K;
        } else {
          if (p == P::Q2_K) t = GgmlType::Q3_K;
          else if (p == P::IQ3_XXS) t = GgmlType::IQ3_S;
          else if (p == P::Q3_K_M) t = GgmlType::Q4_K;
          else if (p == P::Q3_K_L) t = GgmlType::Q5_K;
          else if (p == P::IQ3_M) t = GgmlType::Q4_K;
        }
        break;
      case Category::FfnGate:
      case Category::FfnUp: {
        // IQ3_XS keeps its first and last eighth of layers at IQ3_S, the rest IQ3_XXS.
        auto [i, n] = layer_info(cat == Category::FfnGate ? i_ffn_gate_++ : i_ffn_up_++, s.name);
        if (p == P::IQ3_XS && i >= n / 8 && i < 7 * n / 8) t = GgmlType::IQ3_XXS;
        break;
      }
      default:
        break;
    }
    return t;
  }

  // The presets of about 2 bits or less share one set of rules.
  static bool is_two_bit_or_less(P p) {
    return p == P::IQ2_XXS || p == P::IQ2_XS || p == P::IQ1_S || p == P::IQ2_S || p == P::IQ2_M || p == P::IQ1_M;
  }
  GgmlType two_bit_rule(GgmlType t, Category cat) {
    const P p = opt_.preset;
    const bool s_or_m = p == P::IQ2_S || p == P::IQ2_M;  // their sensitive tensors get IQ3_S, the others Q2_K
    switch (cat) {
      case Category::AttnV:
        if (cfg_.n_heads / std::max<int64_t>(1, cfg_.n_kv_heads) >= 4 || cfg_.n_experts >= 4) t = GgmlType::Q4_K;
        else t = s_or_m ? GgmlType::IQ3_S : GgmlType::Q2_K;
        ++i_attention_wv_;
        break;
      case Category::AttnK:
        if (cfg_.n_experts == 8) t = GgmlType::Q4_K;
        break;
      case Category::FfnDown:
        // llama.cpp counts ffn_down tensors here rather than parsing the layer.
        if (i_ffn_down_ < n_layers_ / 8) t = s_or_m ? GgmlType::IQ3_S : GgmlType::Q2_K;
        ++i_ffn_down_;
        break;
      case Category::AttnOutput:
        if (cfg_.n_experts == 8) t = GgmlType::Q5_K;
        else if (p == P::IQ1_S || p == P::IQ1_M) t = GgmlType::IQ2_XXS;
        else if (s_or_m) t = GgmlType::IQ3_S;
        break;
      default:
        break;
    }
    return t;
  }

  // A row length the type cannot hold falls back to a 32-block type, then F16.
  GgmlType fallback(GgmlType t, const GgufTensorSpec& s) const {
    const int64_t ncols = s.ne[0];
    if (ncols % ggml::block_size(t) == 0) return t;
    GgmlType r;
    switch (t) {
      case GgmlType::IQ1_S: case GgmlType::IQ1_M: case GgmlType::IQ2_XXS: case GgmlType::IQ2_XS: case GgmlType::IQ2_S:
      case GgmlType::IQ3_XXS: case GgmlType::IQ3_S: case GgmlType::IQ4_XS: r = GgmlType::IQ4_NL; break;
      case GgmlType::Q2_K: case GgmlType::Q3_K: case GgmlType::TQ1_0: case GgmlType::TQ2_0: r = GgmlType::Q4_0; break;
      case GgmlType::Q4_K: r = GgmlType::Q5_0; break;
      case GgmlType::Q5_K: r = GgmlType::Q5_1; break;
      case GgmlType::Q6_K: r = GgmlType::Q8_0; break;
      default:
        fail("tensor {}: row length {} is not a multiple of {}'s block size {} and {} has no fallback type", s.name,
             ncols, ggml::type_name(t), ggml::block_size(t), ggml::type_name(t));
    }
    if (ncols % ggml::block_size(r) != 0) r = GgmlType::F16;
    return r;
  }

  const ModelConfig& cfg_;
  const GgufQuantOptions& opt_;
  GgmlType source_type_, default_type_;
  std::vector<std::pair<UserRegex, GgmlType>> patterns_;
  bool tied_ = true;  // until an output.weight is seen
  int n_layers_ = 0;
  int n_attention_wv_ = 0, i_attention_wv_ = 0, i_ffn_down_ = 0, i_ffn_gate_ = 0, i_ffn_up_ = 0;
};

// llama-quantize visits tensors sorted by block index, then name (blocks
// last-to-first never happens); the per-category counters depend on it.
std::vector<size_t> llama_quantize_order(const std::vector<GgufTensorSpec>& layout) {
  std::vector<size_t> order(layout.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const int la = layer_of(layout[a].name), lb = layer_of(layout[b].name);
    if (la != lb) return la < lb;
    return layout[a].name < layout[b].name;
  });
  return order;
}

}  // namespace

std::vector<TensorTypeChoice> plan_tensor_types(const ModelConfig& cfg, const std::vector<GgufTensorSpec>& layout,
                                                const GgufQuantOptions& opt, GgmlType source_type) {
  TypePlanner planner(cfg, layout, opt, source_type);
  std::vector<TensorTypeChoice> out(layout.size());
  for (size_t i : llama_quantize_order(layout)) out[i] = planner.choose(layout[i]);
  for (size_t i = 0; i < layout.size(); ++i) {
    const Category cat = category_of(layout[i].name);
    out[i].needs_importance = out[i].quantizable && type_needs_importance(out[i].type) &&
                              cat != Category::TokenEmbd && cat != Category::Output;
  }
  return out;
}

void share_gguf_plan(GgufQuantOptions& opt, Cluster& cluster) {
  if (cluster.single()) return;
  std::string text;
  if (cluster.is_root()) {
    nlohmann::json types = nlohmann::json::object();
    for (const auto& [name, type] : opt.tensor_type_by_name) types[name] = ggml::type_name(type);
    text = nlohmann::json{{"preset", preset_info(opt.preset).name}, {"types", types}}.dump();
  }
  std::vector<uint8_t> bytes(text.begin(), text.end());
  cluster.broadcast(bytes, 0);
  if (cluster.is_root()) return;
  const nlohmann::json j = nlohmann::json::parse(bytes.begin(), bytes.end());
  const auto preset = preset_from_name(j.at("preset").get<std::string>());
  if (!preset) fail("rank 0 sent an unknown preset {}", j.at("preset").dump());
  opt.preset = *preset;
  opt.tensor_type_by_name.clear();
  for (const auto& [name, type] : j.at("types").items()) {
    const auto t = ggml::type_from_name(type.get<std::string>());
    if (!t) fail("rank 0 sent an unknown type {} for {}", type.dump(), name);
    opt.tensor_type_by_name[name] = *t;
  }
}

}  // namespace llmq
