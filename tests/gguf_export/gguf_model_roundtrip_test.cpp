// Export -> load round trips through real files: weights (permutation and
// expert stacking undone), metadata keys, the rebuilt tokenizer, perplexity
// and logits of F32 and Q8_0 files against the Hugging Face checkpoint.
#include <cmath>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "eval/perplexity.h"
#include "export/gguf/gguf_model_config.h"
#include "export/gguf/gguf_model_loader.h"
#include "export/gguf/gguf_tokenizer.h"
#include "gguf_export/gguf_export_support.h"
#include "io/gguf/gguf_reader.h"
#include "util/error.h"
#include "io/safetensors.h"
#include "model/model_loader.h"
#include "model/transformer.h"
#include "tokenizer/tokenizer.h"

using namespace llmq;

namespace {

const std::string& wikitext() {
  static const std::string text = test::read_file(test::data_file("wikitext2_test.txt"));
  return text;
}

// Perplexity on the first 4 windows of 512 tokens of wikitext-2.
double few_chunks_ppl(const LoadedModel& m) {
  Transformer model(m.weights);
  std::vector<int32_t> tokens = m.tokenizer->encode(wikitext().substr(0, 40000), false);
  PerplexityOptions o;
  o.ctx = 512;
  o.chunks = 4;
  return perplexity(model, tokens, o).ppl;
}

// The checkpoint's own perplexity, computed once per model.
double hf_ppl(const std::string& name) {
  static std::map<std::string, double> cache;
  if (!cache.count(name)) cache[name] = few_chunks_ppl(load_hf_model(test::model_dir(name)));
  return cache[name];
}

// Every tensor of `a` equals the one of `b` with the same Hugging Face name.
void expect_same_weights(ModelWeights& a, ModelWeights& b) {
  auto na = named_tensors(a), nb = named_tensors(b);
  ASSERT_EQ(na.size(), nb.size());
  for (size_t i = 0; i < na.size(); ++i) {
    ASSERT_EQ(na[i].name, nb[i].name);
    ASSERT_EQ(na[i].tensor->shape, nb[i].tensor->shape) << na[i].name;
    ASSERT_TRUE(na[i].tensor->data == nb[i].tensor->data) << na[i].name;
  }
}

}  // namespace

class GgufF32RoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufF32RoundTrip, WeightsComeBackBitExact) {
  // F32 holds bf16 values exactly, so un-permuting q/k and unstacking experts
  // must give back the checkpoint's fp32 conversion bit for bit.
  const std::string name = GetParam();
  LoadedModel hf = load_hf_model(test::model_dir(name));
  LoadedModel gg = load_gguf_model(test::exported_gguf(name, GgufPreset::F32));
  EXPECT_EQ(gg.format, "gguf");
  EXPECT_EQ(gg.dtype, "F32");
  EXPECT_EQ(gg.n_params, hf.n_params);
  const ModelConfig &a = hf.weights->cfg, &b = gg.weights->cfg;
  EXPECT_EQ(a.arch, b.arch);
  EXPECT_EQ(a.hidden, b.hidden);
  EXPECT_EQ(a.n_layers, b.n_layers);
  EXPECT_EQ(a.n_heads, b.n_heads);
  EXPECT_EQ(a.n_kv_heads, b.n_kv_heads);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.vocab, b.vocab);
  EXPECT_EQ(a.n_experts, b.n_experts);
  EXPECT_EQ(a.n_experts_used, b.n_experts_used);
  EXPECT_EQ(a.moe_ffn, b.moe_ffn);
  EXPECT_EQ(a.qk_norm, b.qk_norm);
  EXPECT_EQ(a.tie_embeddings, b.tie_embeddings);
  EXPECT_DOUBLE_EQ(a.rope_theta, b.rope_theta);
  EXPECT_NEAR(a.rms_eps, b.rms_eps, 1e-12);
  expect_same_weights(*hf.weights, *gg.weights);
}

TEST_P(GgufF32RoundTrip, TokenizerEncodesAndDecodesLikeTheCheckpoint) {
  const std::string name = GetParam();
  LoadedModel hf = load_hf_model(test::model_dir(name));
  GgufReader g(test::exported_gguf(name, GgufPreset::F32));
  auto tok = load_gguf_tokenizer(g);
  const std::string text = wikitext().substr(0, 60000) + " <s> </s> <|endoftext|> naïve 日本語 \xF0\x9F\x98\x80";
  const auto want = hf.tokenizer->encode(text, false);
  EXPECT_EQ(tok->encode(text, false), want);
  EXPECT_EQ(tok->decode(want), hf.tokenizer->decode(want));
  EXPECT_EQ(tok->encode("Hello world", true), hf.tokenizer->encode("Hello world", true));
  EXPECT_EQ(tok->bos_id(), hf.tokenizer->bos_id());
  EXPECT_EQ(tok->eos_id(), hf.tokenizer->eos_id());
  EXPECT_EQ(tok->vocab_size(), hf.tokenizer->vocab_size());
  EXPECT_EQ(tok->gguf_vocab().tokens, hf.tokenizer->gguf_vocab().tokens);
}

TEST_P(GgufF32RoundTrip, PerplexityAndLogitsMatchTheCheckpoint) {
  const std::string name = GetParam();
  register_gguf_model_loader();
  LoadedModel gg = load_model(test::exported_gguf(name, GgufPreset::F32));  // through the registered loader
  const double ppl_hf = hf_ppl(name), ppl_gg = few_chunks_ppl(gg);
  EXPECT_NEAR(ppl_gg, ppl_hf, 1e-4 * ppl_hf);

  SafetensorsFile ref(test::model_dir(name) + "/reference_logits.safetensors");
  const TensorView* ids = ref.find("input_ids");
  const TensorView* want = ref.find("logits");
  const int64_t T = ids->numel();
  std::vector<int32_t> tokens(reinterpret_cast<const int32_t*>(ids->data),
                              reinterpret_cast<const int32_t*>(ids->data) + T);
  Transformer model(gg.weights);
  KvCache cache = model.make_cache(T);
  std::vector<float> logits;
  model.forward(tokens.data(), T, cache, logits);
  const float* w = reinterpret_cast<const float*>(want->data);
  double max_diff = 0;
  for (int64_t i = 0; i < T * gg.weights->cfg.vocab; ++i)
    max_diff = std::max(max_diff, double(std::fabs(logits[size_t(i)] - w[i])));
  EXPECT_LT(max_diff, 1e-3);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GgufF32RoundTrip, ::testing::Values("tiny-llama", "tiny-qwen3moe"),
                         [](const auto& info) { return info.param == "tiny-llama" ? "TinyLlama" : "TinyQwen3Moe"; });

TEST(GgufQ8_0, PerplexityWithinHalfAPercent) {
  for (const char* name : {"tiny-llama", "tiny-qwen3moe"}) {
    LoadedModel q8 = load_gguf_model(test::exported_gguf(name, GgufPreset::Q8_0));
    EXPECT_EQ(q8.dtype, "Q8_0");
    const double ppl_hf = hf_ppl(name), ppl_q8 = few_chunks_ppl(q8);
    EXPECT_NEAR(ppl_q8, ppl_hf, 0.005 * ppl_hf) << name;
    EXPECT_NE(ppl_q8, ppl_hf) << name;  // it really is quantized
  }
}

TEST(GgufMetadata, KeysLlamaCppReads) {
  GgufReader g(test::exported_gguf("tiny-llama", GgufPreset::Q4_K_M));
  EXPECT_EQ(g.get<std::string>("general.architecture"), "llama");
  EXPECT_EQ(g.get<std::string>("general.name"), "tiny-llama");
  EXPECT_EQ(g.get<uint32_t>("general.file_type"), 15u);
  EXPECT_EQ(g.get<uint32_t>("general.quantization_version"), 2u);
  EXPECT_EQ(g.get<uint32_t>("llama.block_count"), 4u);
  EXPECT_EQ(g.get<uint32_t>("llama.context_length"), 2048u);
  EXPECT_EQ(g.get<uint32_t>("llama.embedding_length"), 256u);
  EXPECT_EQ(g.get<uint32_t>("llama.feed_forward_length"), 768u);
  EXPECT_EQ(g.get<uint32_t>("llama.attention.head_count"), 4u);
  EXPECT_EQ(g.get<uint32_t>("llama.attention.head_count_kv"), 2u);
  EXPECT_EQ(g.get<uint32_t>("llama.rope.dimension_count"), 64u);
  EXPECT_EQ(g.get<uint32_t>("llama.vocab_size"), 8192u);
  EXPECT_FLOAT_EQ(g.get<float>("llama.rope.freq_base"), 10000.0f);
  EXPECT_FLOAT_EQ(g.get<float>("llama.attention.layer_norm_rms_epsilon"), 1e-6f);
  EXPECT_FALSE(g.contains("llama.attention.key_length"));  // head_dim = hidden / heads
  EXPECT_EQ(g.get<std::string>("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(g.get<std::vector<std::string>>("tokenizer.ggml.tokens").size(), 8192u);
  EXPECT_EQ(g.get<std::vector<float>>("tokenizer.ggml.scores").size(), 8192u);
  EXPECT_EQ(g.get<std::vector<int32_t>>("tokenizer.ggml.token_type").size(), 8192u);
  EXPECT_EQ(g.get<uint32_t>("tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_EQ(g.get<uint32_t>("tokenizer.ggml.eos_token_id"), 2u);
  EXPECT_EQ(g.get<uint32_t>("tokenizer.ggml.unknown_token_id"), 0u);
  EXPECT_FALSE(g.get<bool>("tokenizer.ggml.add_bos_token"));  // trained without BOS
  EXPECT_FALSE(g.get<bool>("tokenizer.ggml.add_eos_token"));
  EXPECT_EQ(g.tensor("blk.2.attn_v.weight").type, ggml::GgmlType::Q6_K);
  EXPECT_EQ(g.tensor("blk.0.attn_v.weight").type, ggml::GgmlType::Q4_K);
  EXPECT_EQ(g.tensor("blk.0.attn_norm.weight").type, ggml::GgmlType::F32);

  GgufReader m(test::exported_gguf("tiny-qwen3moe", GgufPreset::Q4_K_M));
  EXPECT_EQ(m.get<std::string>("general.architecture"), "qwen3moe");
  EXPECT_EQ(m.get<uint32_t>("qwen3moe.expert_count"), 16u);
  EXPECT_EQ(m.get<uint32_t>("qwen3moe.expert_used_count"), 2u);
  EXPECT_EQ(m.get<uint32_t>("qwen3moe.expert_feed_forward_length"), 256u);
  EXPECT_EQ(m.get<uint32_t>("qwen3moe.attention.key_length"), 64u);
  EXPECT_FLOAT_EQ(m.get<float>("qwen3moe.rope.freq_base"), 1e6f);
  EXPECT_EQ(m.get<std::string>("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(m.get<std::string>("tokenizer.ggml.pre"), "qwen2");
  EXPECT_FALSE(m.contains("tokenizer.ggml.scores"));
  EXPECT_GT(m.get<std::vector<std::string>>("tokenizer.ggml.merges").size(), 1000u);
  EXPECT_EQ(m.get<uint32_t>("tokenizer.ggml.eos_token_id"), 0u);
  EXPECT_FALSE(m.contains("tokenizer.ggml.bos_token_id"));
  const GgufTensorInfo& exps = m.tensor("blk.0.ffn_down_exps.weight");
  EXPECT_EQ(exps.shape, (std::vector<int64_t>{256, 256, 16}));
  EXPECT_EQ(exps.type, ggml::GgmlType::Q4_K);  // layer 0 of 4: no extra bits
  EXPECT_EQ(m.tensor("blk.3.ffn_down_exps.weight").type, ggml::GgmlType::Q6_K);
  EXPECT_EQ(m.tensor("blk.0.ffn_gate_inp.weight").type, ggml::GgmlType::F32);
  EXPECT_EQ(m.tensor("blk.0.attn_k_norm.weight").type, ggml::GgmlType::F32);
}

TEST(GgufLoader, RejectsWhatItCannotRead) {
  test::TempDir d;
  const std::string bad = d / "bad.gguf";
  {
    std::ofstream f(bad, std::ios::binary);
    f << "GGUF but not really";
  }
  EXPECT_FALSE(is_gguf_file(test::model_dir("tiny-llama")));
  EXPECT_TRUE(is_gguf_file(bad));
  EXPECT_THROW(load_gguf_model(bad), Error);
}

// A GGUF file loaded lazily (ggml blocks dequantized per tile, q/k rows mapped
// back through the rope permutation, stacked experts split by row offset)
// computes what the dense load computes.
TEST(GgufLazy, LogitsEqualTheDenseLoad) {
  for (const char* name : {"tiny-llama", "tiny-qwen3moe"})
    for (GgufPreset p : {GgufPreset::F32, GgufPreset::Q4_K_M}) {
      const std::string path = test::exported_gguf(name, p);
      LoadedModel dense = load_gguf_model(path);
      LoadedModel lazy = load_gguf_model(path, {.lazy = true});
      EXPECT_TRUE(lazy.weights->layers[0].wq.lazy());
      std::vector<int32_t> tokens = test::reference(name)["sample_ids"].get<std::vector<int32_t>>();
      tokens.resize(32);
      std::vector<float> a, b;
      Transformer ta(dense.weights), tb(lazy.weights);
      KvCache ca = ta.make_cache(32), cb = tb.make_cache(32);
      ta.forward(tokens.data(), 32, ca, a);
      tb.forward(tokens.data(), 32, cb, b);
      ASSERT_EQ(a.size(), b.size());
      double max_diff = 0, max_logit = 0;
      for (size_t i = 0; i < a.size(); ++i) {
        max_diff = std::max(max_diff, double(std::fabs(a[i] - b[i])));
        max_logit = std::max(max_logit, double(std::fabs(a[i])));
      }
      // Batches under 8 tokens (the experts' share of 32 tokens) multiply
      // k-quant rows by Q8_K activations, as llama.cpp does: within 1% of
      // the largest logit (measured 0.08 of 13 on tiny-qwen3moe). A wrong
      // row mapping moves logits by their own size.
      const bool q8_activations = p == GgufPreset::Q4_K_M && std::string(name) == "tiny-qwen3moe";
      EXPECT_LT(max_diff, q8_activations ? 0.01 * max_logit : 1e-4) << name << " " << preset_info(p).name << " max logit " << max_logit;
      materialize_all(*lazy.weights);
      EXPECT_EQ(lazy.weights->layers[1].wq.data, dense.weights->layers[1].wq.data) << name;
      EXPECT_EQ(lazy.weights->layers[1].wk.data, dense.weights->layers[1].wk.data) << name;
    }
}
