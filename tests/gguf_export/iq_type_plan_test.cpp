// The per-tensor types of the i-quant and ternary presets against tables
// worked out by hand from llama.cpp's llama_tensor_get_type rules
// (src/llama-quant.cpp), and the importance-matrix requirement.
//
// small-llama: 8 layers, 8 heads / 4 KV heads (n_gqa = 2), untied, rows of
// 512 and 1536. "First eighth" = layer 0; IQ3_XS's middle layers = 1..6.
//  - IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS: output Q5_K, token_embd Q2_K, attn_v Q2_K
//    (n_gqa < 4), ffn_down of layer 0 Q2_K; attn_output IQ2_XXS for IQ1_*.
//  - IQ2_S (base IQ2_XS), IQ2_M (base IQ2_S): output Q5_K, token_embd,
//    attn_v, attn_output and ffn_down of layer 0 IQ3_S.
//  - IQ3_XXS: output Q5_K, token_embd IQ3_S, attn_q/attn_k IQ2_S,
//    attn_output IQ3_S, attn_v IQ3_XXS with an imatrix (IQ3_S without);
//    without an imatrix ffn_down is Q4_K in layer 0 and Q3_K elsewhere.
//  - IQ3_XS (base IQ3_S): attn_q/attn_k IQ3_XXS, ffn_gate/up IQ3_XXS in
//    the middle layers; IQ3_M: attn_v, attn_output, ffn_down of layer 0 Q4_K.
//  - IQ4_NL/IQ4_XS: only ffn_down of layer 0 changes, to Q5_K, and only
//    without an imatrix. TQ1_0/TQ2_0: token_embd Q4_K.
//  - output Q6_K for every preset not listed with Q5_K.
#include <map>
#include <regex>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "export/gguf/gguf_tensor_layout.h"
#include "export/gguf/gguf_type_plan.h"
#include "gguf_export/gguf_export_support.h"

using namespace llmq;
using test::layer_of;
using test::plan_by_name;
using T = ggml::GgmlType;
using P = GgufPreset;

namespace {

struct Row {
  P preset;
  T base, output, token_embd, attn_q, attn_k, attn_v, attn_output, ffn_down_layer0, ffn_gate_up_middle;
};

// small-llama with an importance matrix.
constexpr Row kSmallLlama[] = {
    {P::IQ1_S, T::IQ1_S, T::Q5_K, T::Q2_K, T::IQ1_S, T::IQ1_S, T::Q2_K, T::IQ2_XXS, T::Q2_K, T::IQ1_S},
    {P::IQ1_M, T::IQ1_M, T::Q5_K, T::Q2_K, T::IQ1_M, T::IQ1_M, T::Q2_K, T::IQ2_XXS, T::Q2_K, T::IQ1_M},
    {P::IQ2_XXS, T::IQ2_XXS, T::Q5_K, T::Q2_K, T::IQ2_XXS, T::IQ2_XXS, T::Q2_K, T::IQ2_XXS, T::Q2_K, T::IQ2_XXS},
    {P::IQ2_XS, T::IQ2_XS, T::Q5_K, T::Q2_K, T::IQ2_XS, T::IQ2_XS, T::Q2_K, T::IQ2_XS, T::Q2_K, T::IQ2_XS},
    {P::IQ2_S, T::IQ2_XS, T::Q5_K, T::IQ3_S, T::IQ2_XS, T::IQ2_XS, T::IQ3_S, T::IQ3_S, T::IQ3_S, T::IQ2_XS},
    {P::IQ2_M, T::IQ2_S, T::Q5_K, T::IQ3_S, T::IQ2_S, T::IQ2_S, T::IQ3_S, T::IQ3_S, T::IQ3_S, T::IQ2_S},
    {P::IQ3_XXS, T::IQ3_XXS, T::Q5_K, T::IQ3_S, T::IQ2_S, T::IQ2_S, T::IQ3_XXS, T::IQ3_S, T::IQ3_XXS, T::IQ3_XXS},
    {P::IQ3_XS, T::IQ3_S, T::Q6_K, T::IQ3_S, T::IQ3_XXS, T::IQ3_XXS, T::IQ3_S, T::IQ3_S, T::IQ3_S, T::IQ3_XXS},
    {P::IQ3_S, T::IQ3_S, T::Q6_K, T::IQ3_S, T::IQ3_S, T::IQ3_S, T::IQ3_S, T::IQ3_S, T::IQ3_S, T::IQ3_S},
    {P::IQ3_M, T::IQ3_S, T::Q6_K, T::IQ3_S, T::IQ3_S, T::IQ3_S, T::Q4_K, T::Q4_K, T::Q4_K, T::IQ3_S},
    {P::IQ4_NL, T::IQ4_NL, T::Q6_K, T::IQ4_NL, T::IQ4_NL, T::IQ4_NL, T::IQ4_NL, T::IQ4_NL, T::IQ4_NL, T::IQ4_NL},
    {P::IQ4_XS, T::IQ4_XS, T::Q6_K, T::IQ4_XS, T::IQ4_XS, T::IQ4_XS, T::IQ4_XS, T::IQ4_XS, T::IQ4_XS, T::IQ4_XS},
    {P::TQ1_0, T::TQ1_0, T::Q6_K, T::Q4_K, T::TQ1_0, T::TQ1_0, T::TQ1_0, T::TQ1_0, T::TQ1_0, T::TQ1_0},
    {P::TQ2_0, T::TQ2_0, T::Q6_K, T::Q4_K, T::TQ2_0, T::TQ2_0, T::TQ2_0, T::TQ2_0, T::TQ2_0, T::TQ2_0},
};

std::vector<TensorTypeChoice> plan(const ModelConfig& cfg, const GgufQuantOptions& opt) {
  return plan_tensor_types(cfg, gguf_tensor_layout(cfg), opt, T::BF16);
}

T expected(const Row& r, const std::string& name) {
  const int l = layer_of(name);
  auto has = [&](const char* s) { return name.find(s) != std::string::npos; };
  if (name == "output.weight") return r.output;
  if (name == "token_embd.weight") return r.token_embd;
  if (has("norm")) return T::F32;
  if (has("attn_q.")) return r.attn_q;
  if (has("attn_k.")) return r.attn_k;
  if (has("attn_v.")) return r.attn_v;
  if (has("attn_output.")) return r.attn_output;
  if (has("ffn_down")) return l == 0 ? r.ffn_down_layer0 : r.base;
  if (has("ffn_gate") || has("ffn_up")) return l >= 1 && l <= 6 ? r.ffn_gate_up_middle : r.base;
  return r.base;
}

}  // namespace

TEST(IqTypePlan, SmallLlamaWithImatrix) {
  const ModelConfig cfg = test::fixture_config("small-llama");
  for (const Row& r : kSmallLlama) {
    GgufQuantOptions opt;
    opt.preset = r.preset;
    opt.has_imatrix = true;
    EXPECT_EQ(preset_info(r.preset).default_type, r.base) << preset_info(r.preset).name;
    for (const auto& [name, type] : plan_by_name(cfg, opt))
      EXPECT_EQ(ggml::type_name(type), ggml::type_name(expected(r, name))) << preset_info(r.preset).name << " " << name;
  }
}

TEST(IqTypePlan, WithoutImatrix) {
  const ModelConfig cfg = test::fixture_config("small-llama");
  GgufQuantOptions opt;
  opt.preset = P::IQ3_XXS;
  auto m = plan_by_name(cfg, opt);
  EXPECT_EQ(m["blk.2.attn_v.weight"], T::IQ3_S);
  EXPECT_EQ(m["blk.0.ffn_down.weight"], T::Q4_K);
  for (int l = 1; l < 8; ++l) EXPECT_EQ(m[fmt::format("blk.{}.ffn_down.weight", l)], T::Q3_K) << l;
  for (P p : {P::IQ4_NL, P::IQ4_XS}) {
    opt.preset = p;
    m = plan_by_name(cfg, opt);
    EXPECT_EQ(m["blk.0.ffn_down.weight"], T::Q5_K);
    EXPECT_EQ(m["blk.1.ffn_down.weight"], preset_info(p).default_type);
  }
}

TEST(IqTypePlan, GroupedQueryAndExperts) {
  // n_gqa = 4: attn_v Q4_K for the 2-bit presets, IQ3_XXS, IQ3_XS, IQ3_S; Q5_K for IQ4_*.
  ModelConfig cfg = test::fixture_config("tiny-llama");
  cfg.n_kv_heads = 1;
  GgufQuantOptions opt;
  opt.has_imatrix = true;
  for (P p : {P::IQ1_S, P::IQ2_XXS, P::IQ2_M, P::IQ3_XXS, P::IQ3_XS, P::IQ3_S}) {
    opt.preset = p;
    EXPECT_EQ(plan_by_name(cfg, opt)["blk.1.attn_v.weight"], T::Q4_K) << preset_info(p).name;
  }
  opt.preset = P::IQ4_XS;
  EXPECT_EQ(plan_by_name(cfg, opt)["blk.1.attn_v.weight"], T::Q5_K);

  // 16 experts (tiny-qwen3moe, 4 layers): the 2-bit presets' attn_v is Q4_K;
  // IQ3_XS's expert gate/up are IQ3_XXS in layers 0..2 (n/8 = 0, 7n/8 = 3).
  const ModelConfig moe = test::fixture_config("tiny-qwen3moe");
  opt.preset = P::IQ2_XS;
  auto m = plan_by_name(moe, opt);
  EXPECT_EQ(m["blk.0.attn_v.weight"], T::Q4_K);
  EXPECT_EQ(m["blk.0.ffn_down_exps.weight"], T::IQ2_XS);
  EXPECT_EQ(m["blk.0.ffn_gate_inp.weight"], T::F32);
  opt.preset = P::IQ3_XS;
  m = plan_by_name(moe, opt);
  for (int l = 0; l < 4; ++l) {
    EXPECT_EQ(m[fmt::format("blk.{}.ffn_gate_exps.weight", l)], l < 3 ? T::IQ3_XXS : T::IQ3_S) << l;
    EXPECT_EQ(m[fmt::format("blk.{}.ffn_up_exps.weight", l)], l < 3 ? T::IQ3_XXS : T::IQ3_S) << l;
  }

  // 8 experts (Mixtral-style): attn_k Q4_K and attn_output Q5_K for the 2-bit
  // presets; IQ3_S's attn_output Q5_K and attn_v Q8_0.
  cfg = test::fixture_config("tiny-llama");
  cfg.arch = Arch::Mixtral;
  cfg.n_experts = 8, cfg.n_experts_used = 2, cfg.moe_ffn = 512;
  opt.preset = P::IQ2_XXS;
  m = plan_by_name(cfg, opt);
  EXPECT_EQ(m["blk.0.attn_k.weight"], T::Q4_K);
  EXPECT_EQ(m["blk.0.attn_output.weight"], T::Q5_K);
  EXPECT_EQ(m["blk.0.attn_v.weight"], T::Q4_K);
  opt.preset = P::IQ3_S;
  m = plan_by_name(cfg, opt);
  EXPECT_EQ(m["blk.0.attn_output.weight"], T::Q5_K);
  EXPECT_EQ(m["blk.0.attn_v.weight"], T::Q8_0);
}

TEST(IqTypePlan, FallbackForRowsNotMultipleOf256) {
  // Rows of 96: i-quants fall back to IQ4_NL, ternary to Q4_0, output to Q8_0.
  ModelConfig cfg = test::fixture_config("tiny-llama");
  cfg.hidden = 96;
  cfg.n_heads = 3, cfg.n_kv_heads = 1, cfg.head_dim = 32;
  GgufQuantOptions opt;
  opt.has_imatrix = true;
  opt.preset = P::IQ2_XXS;
  auto m = plan_by_name(cfg, opt);
  EXPECT_EQ(m["blk.0.attn_q.weight"], T::IQ4_NL);
  EXPECT_EQ(m["output.weight"], T::Q8_0);
  EXPECT_EQ(m["blk.0.ffn_down.weight"], T::IQ2_XXS);  // rows of 768 fit
  opt.preset = P::TQ2_0;
  EXPECT_EQ(plan_by_name(cfg, opt)["blk.0.attn_q.weight"], T::Q4_0);
  opt.preset = P::IQ4_XS;
  EXPECT_EQ(plan_by_name(cfg, opt)["blk.0.attn_q.weight"], T::IQ4_NL);
}

TEST(IqTypePlan, WhichTensorsNeedAnImportanceMatrix) {
  const ModelConfig cfg = test::fixture_config("small-llama");
  const auto layout = gguf_tensor_layout(cfg);
  GgufQuantOptions opt;
  opt.has_imatrix = true;
  for (P p : {P::IQ1_S, P::IQ2_XXS, P::IQ2_S, P::IQ3_XXS, P::IQ3_XS, P::IQ3_S, P::IQ4_XS, P::TQ1_0, P::Q2_K}) {
    opt.preset = p;
    const auto choices = plan(cfg, opt);
    for (size_t i = 0; i < layout.size(); ++i) {
      const T t = choices[i].type;
      const bool coarse = t == T::IQ1_S || t == T::IQ1_M || t == T::IQ2_XXS || t == T::IQ2_XS || t == T::IQ2_S ||
                          t == T::IQ3_XXS;
      EXPECT_EQ(choices[i].needs_importance, coarse) << preset_info(p).name << " " << layout[i].name;
    }
  }
  // A manual IQ2_XXS needs one too, except on token_embd and output.
  opt.preset = P::Q4_K_M;
  opt.tensor_types = {{"attn_q", T::IQ2_XXS}};
  opt.token_embedding_type = T::IQ2_XXS;
  const auto choices = plan(cfg, opt);
  for (size_t i = 0; i < layout.size(); ++i) {
    if (layout[i].name == "blk.0.attn_q.weight") EXPECT_TRUE(choices[i].needs_importance);
    if (layout[i].name == "token_embd.weight") EXPECT_FALSE(choices[i].needs_importance);
  }
}
