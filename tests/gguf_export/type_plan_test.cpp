// The per-tensor type plan of every preset against tables worked out by hand
// from llama.cpp's llama_tensor_get_type rules (src/llama-quant.cpp):
//
//  use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2
//    n = 4 layers: layers 2 and 3;  n = 8 layers: layers 0, 3, 6 and 7.
//  output.weight: Q6_K, except Q8_0 stays Q8_0 (and --pure keeps the preset).
//  token_embd.weight: the preset's type (models untied).
//  attn_v:  Q2_K -> Q3_K (n_head/n_kv = 2 < 4);  Q3_K_M -> Q5_K for the first
//           two attn_v tensors, else Q4_K;  Q3_K_L -> Q5_K;  Q4_K_S -> Q5_K for
//           the first four;  Q4_K_M/Q5_K_M -> Q6_K where use_more_bits.
//  ffn_down (and ffn_down_exps): Q2_K -> Q3_K;  Q3_K_M -> Q5_K below n/16
//           (no layer here), else Q4_K;  Q3_K_L -> Q5_K;  Q4_K_M/Q5_K_M -> Q6_K
//           where use_more_bits;  Q4_K_S -> Q5_K below n/8.
//  attn_output: Q2_K -> Q3_K;  Q3_K_M -> Q4_K;  Q3_K_L -> Q5_K.
//  norms, rope/qk norms, ffn_gate_inp: F32. Float presets: every matrix in that type.
#include <map>
#include <regex>

#include <gtest/gtest.h>

#include "export/gguf/gguf_tensor_layout.h"
#include "export/gguf/gguf_type_plan.h"
#include "util/error.h"
#include "gguf_export/gguf_export_support.h"

using namespace llmq;
using test::layer_of;
using test::plan_by_name;
using ggml::GgmlType;
using T = GgmlType;

namespace {

// The expected type of every tensor for one preset on a model with n layers.
struct Expected {
  T base, output, attn_v[8], ffn_down[8], attn_output;
};

Expected expected_4_layers(GgufPreset p) {
  switch (p) {
    case GgufPreset::Q2_K: return {T::Q2_K, T::Q6_K, {T::Q3_K, T::Q3_K, T::Q3_K, T::Q3_K}, {T::Q3_K, T::Q3_K, T::Q3_K, T::Q3_K}, T::Q3_K};
    case GgufPreset::Q3_K_S: return {T::Q3_K, T::Q6_K, {T::Q3_K, T::Q3_K, T::Q3_K, T::Q3_K}, {T::Q3_K, T::Q3_K, T::Q3_K, T::Q3_K}, T::Q3_K};
    case GgufPreset::Q3_K_M: return {T::Q3_K, T::Q6_K, {T::Q5_K, T::Q5_K, T::Q4_K, T::Q4_K}, {T::Q4_K, T::Q4_K, T::Q4_K, T::Q4_K}, T::Q4_K};
    case GgufPreset::Q3_K_L: return {T::Q3_K, T::Q6_K, {T::Q5_K, T::Q5_K, T::Q5_K, T::Q5_K}, {T::Q5_K, T::Q5_K, T::Q5_K, T::Q5_K}, T::Q5_K};
    case GgufPreset::Q4_0: return {T::Q4_0, T::Q6_K, {T::Q4_0, T::Q4_0, T::Q4_0, T::Q4_0}, {T::Q4_0, T::Q4_0, T::Q4_0, T::Q4_0}, T::Q4_0};
    case GgufPreset::Q4_1: return {T::Q4_1, T::Q6_K, {T::Q4_1, T::Q4_1, T::Q4_1, T::Q4_1}, {T::Q4_1, T::Q4_1, T::Q4_1, T::Q4_1}, T::Q4_1};
    case GgufPreset::Q4_K_S: return {T::Q4_K, T::Q6_K, {T::Q5_K, T::Q5_K, T::Q5_K, T::Q5_K}, {T::Q4_K, T::Q4_K, T::Q4_K, T::Q4_K}, T::Q4_K};
    case GgufPreset::Q4_K_M: return {T::Q4_K, T::Q6_K, {T::Q4_K, T::Q4_K, T::Q6_K, T::Q6_K}, {T::Q4_K, T::Q4_K, T::Q6_K, T::Q6_K}, T::Q4_K};
    case GgufPreset::Q5_0: return {T::Q5_0, T::Q6_K, {T::Q5_0, T::Q5_0, T::Q5_0, T::Q5_0}, {T::Q5_0, T::Q5_0, T::Q5_0, T::Q5_0}, T::Q5_0};
    case GgufPreset::Q5_1: return {T::Q5_1, T::Q6_K, {T::Q5_1, T::Q5_1, T::Q5_1, T::Q5_1}, {T::Q5_1, T::Q5_1, T::Q5_1, T::Q5_1}, T::Q5_1};
    case GgufPreset::Q5_K_S: return {T::Q5_K, T::Q6_K, {T::Q5_K, T::Q5_K, T::Q5_K, T::Q5_K}, {T::Q5_K, T::Q5_K, T::Q5_K, T::Q5_K}, T::Q5_K};
    case GgufPreset::Q5_K_M: return {T::Q5_K, T::Q6_K, {T::Q5_K, T::Q5_K, T::Q6_K, T::Q6_K}, {T::Q5_K, T::Q5_K, T::Q6_K, T::Q6_K}, T::Q5_K};
    case GgufPreset::Q6_K: return {T::Q6_K, T::Q6_K, {T::Q6_K, T::Q6_K, T::Q6_K, T::Q6_K}, {T::Q6_K, T::Q6_K, T::Q6_K, T::Q6_K}, T::Q6_K};
    case GgufPreset::Q8_0: return {T::Q8_0, T::Q8_0, {T::Q8_0, T::Q8_0, T::Q8_0, T::Q8_0}, {T::Q8_0, T::Q8_0, T::Q8_0, T::Q8_0}, T::Q8_0};
    case GgufPreset::F16: return {T::F16, T::F16, {T::F16, T::F16, T::F16, T::F16}, {T::F16, T::F16, T::F16, T::F16}, T::F16};
    case GgufPreset::BF16: return {T::BF16, T::BF16, {T::BF16, T::BF16, T::BF16, T::BF16}, {T::BF16, T::BF16, T::BF16, T::BF16}, T::BF16};
    case GgufPreset::F32: return {T::F32, T::F32, {T::F32, T::F32, T::F32, T::F32}, {T::F32, T::F32, T::F32, T::F32}, T::F32};
    default: break;  // i-quant and ternary presets: iq_type_plan_test.cpp
  }
  return {};
}

// Checks every tensor of a 4-layer fixture against the table.
void check_4_layer_plan(const std::string& model, GgufPreset p) {
  const ModelConfig cfg = test::fixture_config(model);
  GgufQuantOptions opt;
  opt.preset = p;
  const Expected e = expected_4_layers(p);
  for (const auto& [name, type] : plan_by_name(cfg, opt)) {
    T want = e.base;
    const int l = layer_of(name);
    if (name == "output.weight") want = e.output;
    else if (name.find("norm") != std::string::npos || name.find("ffn_gate_inp") != std::string::npos) want = T::F32;
    else if (name.find("attn_v.weight") != std::string::npos) want = e.attn_v[l];
    else if (name.find("ffn_down") != std::string::npos) want = e.ffn_down[l];
    else if (name.find("attn_output.weight") != std::string::npos) want = e.attn_output;
    EXPECT_EQ(ggml::type_name(type), ggml::type_name(want)) << model << " " << preset_info(p).name << " " << name;
  }
}

}  // namespace

class PresetPlan : public ::testing::TestWithParam<GgufPreset> {};

TEST_P(PresetPlan, TinyLlama) { check_4_layer_plan("tiny-llama", GetParam()); }
TEST_P(PresetPlan, TinyQwen3Moe) { check_4_layer_plan("tiny-qwen3moe", GetParam()); }

// The legacy, k-quant and float presets; the i-quant and ternary ones are in iq_type_plan_test.cpp.
const std::vector<GgufPreset> kKQuantPresets(all_presets().begin(), all_presets().begin() + 17);

INSTANTIATE_TEST_SUITE_P(AllPresets, PresetPlan, ::testing::ValuesIn(kKQuantPresets),
                         [](const auto& info) { return std::string(preset_info(info.param).name); });

TEST(TypePlan, LayoutNamesAndShapes) {
  const auto llama = gguf_tensor_layout(test::fixture_config("tiny-llama"));
  ASSERT_EQ(llama.size(), 2 + 4 * 9 + 1u);  // embd, output_norm, output + 9 per block
  EXPECT_EQ(llama.front().name, "token_embd.weight");
  EXPECT_EQ(llama.front().ne, (std::vector<int64_t>{256, 8192}));
  EXPECT_EQ(llama.back().name, "output.weight");
  const auto moe = gguf_tensor_layout(test::fixture_config("tiny-qwen3moe"));
  std::map<std::string, GgufTensorSpec> by;
  for (const auto& s : moe) by[s.name] = s;
  EXPECT_EQ(by["blk.1.ffn_gate_exps.weight"].ne, (std::vector<int64_t>{256, 256, 16}));
  EXPECT_EQ(by["blk.1.ffn_down_exps.weight"].ne, (std::vector<int64_t>{256, 256, 16}));
  EXPECT_EQ(by["blk.1.ffn_down_exps.weight"].sources.size(), 16u);
  EXPECT_EQ(by["blk.1.ffn_down_exps.weight"].sources[5], "model.layers.1.mlp.experts.5.down_proj.weight");
  EXPECT_EQ(by["blk.1.ffn_gate_inp.weight"].ne, (std::vector<int64_t>{256, 16}));
  EXPECT_EQ(by["blk.1.attn_q_norm.weight"].ne, (std::vector<int64_t>{64}));
  // llama permutes q/k rows (per head: q over 4 heads, k over the 2 KV heads); qwen does not.
  EXPECT_EQ(llama[2].name, "blk.0.attn_q.weight");
  EXPECT_EQ(llama[2].rope_permute_heads, 4);
  EXPECT_EQ(llama[3].name, "blk.0.attn_k.weight");
  EXPECT_EQ(llama[3].rope_permute_heads, 2);
  EXPECT_EQ(llama[4].rope_permute_heads, 0);  // attn_v
  EXPECT_EQ(by["blk.0.attn_q.weight"].rope_permute_heads, 0);
}

TEST(TypePlan, EightLayerUseMoreBits) {
  // small-llama, 8 layers: use_more_bits = {0, 3, 6, 7}; Q4_K_S bumps the first
  // four attn_v and ffn_down below 8/8 = 1 (layer 0).
  const ModelConfig cfg = test::fixture_config("small-llama");
  GgufQuantOptions opt;
  opt.preset = GgufPreset::Q4_K_M;
  auto m = plan_by_name(cfg, opt);
  for (int l = 0; l < 8; ++l) {
    const bool more = l == 0 || l == 3 || l == 6 || l == 7;
    EXPECT_EQ(m[fmt::format("blk.{}.attn_v.weight", l)], more ? T::Q6_K : T::Q4_K) << l;
    EXPECT_EQ(m[fmt::format("blk.{}.ffn_down.weight", l)], more ? T::Q6_K : T::Q4_K) << l;
  }
  opt.preset = GgufPreset::Q4_K_S;
  m = plan_by_name(cfg, opt);
  for (int l = 0; l < 8; ++l) {
    EXPECT_EQ(m[fmt::format("blk.{}.attn_v.weight", l)], l < 4 ? T::Q5_K : T::Q4_K) << l;
    EXPECT_EQ(m[fmt::format("blk.{}.ffn_down.weight", l)], l < 1 ? T::Q5_K : T::Q4_K) << l;
  }
}

TEST(TypePlan, FallbackForRowsNotMultipleOf256) {
  // hidden 96: every matrix reading the hidden state has rows of 96 values.
  ModelConfig cfg = test::fixture_config("tiny-llama");
  cfg.hidden = 96;
  cfg.n_heads = 3, cfg.n_kv_heads = 1, cfg.head_dim = 32;
  GgufQuantOptions opt;
  opt.preset = GgufPreset::Q4_K_M;
  auto m = plan_by_name(cfg, opt);
  EXPECT_EQ(m["output.weight"], T::Q8_0);             // output rule: ne[0] % 256 != 0 -> Q8_0
  EXPECT_EQ(m["token_embd.weight"], T::Q5_0);         // Q4_K -> Q5_0
  EXPECT_EQ(m["blk.0.attn_q.weight"], T::Q5_0);
  EXPECT_EQ(m["blk.3.attn_v.weight"], T::Q8_0);       // Q6_K (use_more_bits) -> Q8_0
  EXPECT_EQ(m["blk.0.ffn_down.weight"], T::Q4_K);     // rows of 768 fit
  EXPECT_EQ(m["blk.0.attn_output.weight"], T::Q5_0);  // rows of 3 * 32 = 96
  opt.preset = GgufPreset::Q5_K_S;
  EXPECT_EQ(plan_by_name(cfg, opt)["blk.0.attn_q.weight"], T::Q5_1);
  opt.preset = GgufPreset::Q2_K;
  EXPECT_EQ(plan_by_name(cfg, opt)["blk.0.attn_q.weight"], T::Q4_0);
  // 100 values: not even a multiple of 32 -> F16; Q4_0 has no fallback at all.
  cfg.hidden = 100;
  cfg.n_heads = 1, cfg.n_kv_heads = 1, cfg.head_dim = 100;
  opt.preset = GgufPreset::Q4_K_M;
  opt.output_tensor_type = T::F16;  // output alone would need Q8_0, which cannot fall back
  EXPECT_EQ(plan_by_name(cfg, opt)["blk.0.attn_q.weight"], T::F16);
  opt.preset = GgufPreset::Q4_0;
  EXPECT_THROW(plan_by_name(cfg, opt), Error);
}

TEST(TypePlan, TiedEmbeddingsTakeTheOutputType) {
  ModelConfig cfg = test::fixture_config("tiny-llama");
  cfg.tie_embeddings = true;
  GgufQuantOptions opt;
  opt.preset = GgufPreset::Q4_0;
  auto m = plan_by_name(cfg, opt);
  EXPECT_EQ(m.count("output.weight"), 0u);
  EXPECT_EQ(m["token_embd.weight"], T::Q6_K);
  opt.output_tensor_type = T::Q8_0;
  EXPECT_EQ(plan_by_name(cfg, opt)["token_embd.weight"], T::Q8_0);
}

TEST(TypePlan, EightExpertsRules) {
  // Mixtral-style: 8 experts -> attn_v and attn_k Q8_0; attn_output Q5_K for Q4_K_M.
  ModelConfig cfg = test::fixture_config("tiny-llama");
  cfg.arch = Arch::Mixtral;
  cfg.n_experts = 8, cfg.n_experts_used = 2, cfg.moe_ffn = 512;
  GgufQuantOptions opt;
  opt.preset = GgufPreset::Q4_K_M;
  auto m = plan_by_name(cfg, opt);
  EXPECT_EQ(m["blk.0.attn_v.weight"], T::Q8_0);
  EXPECT_EQ(m["blk.0.attn_k.weight"], T::Q8_0);
  EXPECT_EQ(m["blk.0.attn_output.weight"], T::Q5_K);
  EXPECT_EQ(m["blk.3.ffn_down_exps.weight"], T::Q6_K);
  EXPECT_EQ(m["blk.0.ffn_gate_inp.weight"], T::F32);
}

TEST(TypePlan, UserOverrides) {
  const ModelConfig cfg = test::fixture_config("tiny-llama");
  GgufQuantOptions opt;
  opt.preset = GgufPreset::Q3_K_M;
  // A manual type on the first attn_v skips llama.cpp's attn_v counter, so the
  // "first two attn_v" bump moves to layers 1 and 2, as in llama-quantize.
  opt.tensor_types = {{R"(blk\.0\.attn_v)", T::Q8_0}, {"ffn_up", T::Q5_0}};
  auto m = plan_by_name(cfg, opt);
  EXPECT_EQ(m["blk.0.attn_v.weight"], T::Q8_0);
  EXPECT_EQ(m["blk.1.attn_v.weight"], T::Q5_K);
  EXPECT_EQ(m["blk.2.attn_v.weight"], T::Q5_K);
  EXPECT_EQ(m["blk.3.attn_v.weight"], T::Q4_K);
  EXPECT_EQ(m["blk.2.ffn_up.weight"], T::Q5_0);

  GgufQuantOptions pure;
  pure.preset = GgufPreset::Q4_K_M;
  pure.pure = true;
  for (const auto& [name, type] : plan_by_name(cfg, pure))
    if (name.find("norm") == std::string::npos) EXPECT_EQ(type, T::Q4_K) << name;

  GgufQuantOptions io;
  io.preset = GgufPreset::Q4_K_M;
  io.output_tensor_type = T::Q8_0;
  io.token_embedding_type = T::Q6_K;
  m = plan_by_name(cfg, io);
  EXPECT_EQ(m["output.weight"], T::Q8_0);
  EXPECT_EQ(m["token_embd.weight"], T::Q6_K);

  GgufQuantOptions leave;
  leave.preset = GgufPreset::Q4_K_M;
  leave.leave_output_tensor = true;
  EXPECT_EQ(plan_by_name(cfg, leave, T::BF16)["output.weight"], T::BF16);

  GgufQuantOptions bad;
  bad.tensor_types = {{"attn_(q", T::Q8_0}};
  EXPECT_THROW(plan_by_name(cfg, bad), Error);
}

TEST(TypePlan, PresetNames) {
  EXPECT_EQ(preset_from_name("q4_k_m"), GgufPreset::Q4_K_M);
  EXPECT_EQ(preset_from_name("BF16"), GgufPreset::BF16);
  EXPECT_FALSE(preset_from_name("Q4_K"));
  EXPECT_EQ(preset_info(GgufPreset::Q4_K_M).file_type, 15u);
  EXPECT_EQ(preset_info(GgufPreset::Q8_0).file_type, 7u);
  EXPECT_EQ(preset_info(GgufPreset::BF16).file_type, 32u);
  EXPECT_EQ(all_presets().size(), 31u);
  EXPECT_EQ(preset_from_name("ternary"), GgufPreset::TQ1_0);
  EXPECT_EQ(preset_from_name("iq2_xxs"), GgufPreset::IQ2_XXS);
  EXPECT_EQ(preset_info(GgufPreset::IQ2_XXS).file_type, 19u);
  EXPECT_EQ(preset_info(GgufPreset::IQ1_M).file_type, 31u);
  EXPECT_EQ(preset_info(GgufPreset::TQ2_0).file_type, 37u);
  EXPECT_NE(preset_names().find("TERNARY (= TQ1_0)"), std::string::npos);
}
