// config.json parsing: architectures, transformers 4/5 spellings, rope scaling, errors.
#include <gtest/gtest.h>

#include "model/config.h"
#include "model/rope.h"
#include "util/error.h"

using namespace llmq;
using nlohmann::json;

static json base(const std::string& type) {
  return {{"model_type", type}, {"hidden_size", 64}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
          {"num_key_value_heads", 2}, {"intermediate_size", 128}, {"vocab_size", 100}};
}

TEST(Config, Transformers4And5RopeSpellings) {
  json v4 = base("llama");
  v4["rope_theta"] = 500000.0;
  json v5 = base("llama");
  v5["rope_parameters"] = {{"rope_theta", 500000.0}, {"rope_type", "default"}};
  EXPECT_EQ(ModelConfig::from_json(v4, "c").rope_theta, 500000.0);
  EXPECT_EQ(ModelConfig::from_json(v5, "c").rope_theta, 500000.0);
  EXPECT_EQ(ModelConfig::from_json(v4, "c").head_dim, 16);  // hidden / heads when head_dim is absent
}

TEST(Config, MoeExpertCountSpellings) {
  json a = base("qwen3_moe");
  a["num_experts"] = 8;
  a["moe_intermediate_size"] = 32;
  json b = base("qwen3_moe");
  b["num_local_experts"] = 8;
  b["moe_intermediate_size"] = 32;
  EXPECT_EQ(ModelConfig::from_json(a, "c").n_experts, 8);
  EXPECT_EQ(ModelConfig::from_json(b, "c").n_experts, 8);
  EXPECT_TRUE(ModelConfig::from_json(b, "c").qk_norm);
  json m = base("mixtral");
  m["num_local_experts"] = 4;
  EXPECT_EQ(ModelConfig::from_json(m, "c").moe_ffn, 128);
}

TEST(Config, ArchitectureSpecifics) {
  EXPECT_TRUE(ModelConfig::from_json(base("qwen2"), "c").qkv_bias);
  EXPECT_FALSE(ModelConfig::from_json(base("qwen2"), "c").qk_norm);
  EXPECT_TRUE(ModelConfig::from_json(base("qwen3"), "c").qk_norm);
  EXPECT_FALSE(ModelConfig::from_json(base("mistral"), "c").qkv_bias);
  json t = base("llama");
  t["tie_word_embeddings"] = true;
  t["head_dim"] = 32;
  t["rms_norm_eps"] = 1e-5;
  auto c = ModelConfig::from_json(t, "c");
  EXPECT_TRUE(c.tie_embeddings);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_DOUBLE_EQ(c.rms_eps, 1e-5);
}

TEST(Config, Errors) {
  try {
    ModelConfig::from_json(base("gpt2"), "/m/config.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/m/config.json: unknown architecture"), std::string::npos);
  }
  json bad = base("llama");
  bad.erase("hidden_size");
  EXPECT_THROW(ModelConfig::from_json(bad, "c"), Error);
  json rs = base("llama");
  rs["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  EXPECT_THROW(ModelConfig::from_json(rs, "c"), Error);
}

// Values no model has are refused before anything is sized from them (a corrupt or hand-edited
// config would otherwise give NaN perplexities or allocate for a million layers).
TEST(Config, ImpossibleValuesAreRefused) {
  auto refused = [](json j, const std::string& what) {
    try {
      ModelConfig::from_json(j, "/m/config.json");
      ADD_FAILURE() << what << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("/m/config.json: "), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  json j = base("llama");
  j["rope_theta"] = 0.0;
  refused(j, "rope_theta");
  j["rope_theta"] = -10000.0;
  refused(j, "rope_theta");
  j = base("llama");
  j["rms_norm_eps"] = -1e-6;
  refused(j, "rms_norm_eps");
  j = base("llama");
  j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 0.0}};
  refused(j, "rope scaling factor");
  j = base("llama");
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 4.0}, {"high_freq_factor", 4.0}};
  refused(j, "high_freq_factor");
  j = base("llama");
  j["num_hidden_layers"] = 1000000;
  refused(j, "layer count");
  j = base("llama");
  j["vocab_size"] = int64_t(1) << 30;
  refused(j, "vocabulary size");
  j = base("llama");
  j["rms_norm_eps"] = 0.0;  // unusual but well defined
  EXPECT_NO_THROW(ModelConfig::from_json(j, "c"));
}

TEST(Rope, ScalingTypes) {
  json j = base("llama");
  j["head_dim"] = 128;
  j["rope_theta"] = 500000.0;
  auto plain = Rope(ModelConfig::from_json(j, "c")).inv_freq();
  j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 4.0}};
  auto lin = Rope(ModelConfig::from_json(j, "c")).inv_freq();
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_DOUBLE_EQ(lin[i], plain[i] / 4.0);
  // llama3 (Llama 3.1 values): high frequencies kept, low ones divided by the factor.
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  auto l3 = Rope(ModelConfig::from_json(j, "c")).inv_freq();
  EXPECT_DOUBLE_EQ(l3.front(), plain.front());
  EXPECT_DOUBLE_EQ(l3.back(), plain.back() / 8.0);
  for (size_t i = 0; i < plain.size(); ++i) {
    EXPECT_LE(l3[i], plain[i] * (1 + 1e-12));
    EXPECT_GE(l3[i], plain[i] / 8.0 * (1 - 1e-12));
  }
}

TEST(Rope, RotatesPairsByPosition) {
  json j = base("llama");
  j["head_dim"] = 4;
  j["num_attention_heads"] = 1;
  j["num_key_value_heads"] = 1;
  j["hidden_size"] = 4;
  ModelConfig c = ModelConfig::from_json(j, "c");
  Rope r(c);
  // inv_freq = [1, 1/100]; position 2: angles 2 and 0.02; pairs (0,2) and (1,3)
  float x[4] = {1, 0, 0, 1};
  r.apply(x, 1, 1, 2);
  EXPECT_NEAR(x[0], std::cos(2.0), 1e-6);
  EXPECT_NEAR(x[2], std::sin(2.0), 1e-6);
  EXPECT_NEAR(x[1], -std::sin(0.02), 1e-6);
  EXPECT_NEAR(x[3], std::cos(0.02), 1e-6);
}
