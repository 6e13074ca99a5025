// Activation and KV-cache quantization the forward pass simulates: the
// element operations on values worked out by hand, then the forward pass
// against a hook that quantizes every linear input with the formula written
// out here.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "lowbit_test_support.h"
#include "model/runtime_quant.h"
#include "quant/formats/fp/minifloat.h"
#include "util/error.h"

namespace llmq {
namespace {

TEST(RuntimeQuant, Int8PerTokenByHand) {
  // row 0: max 127 -> scale 1; 2.5 and 0.5 tie to even (2, 0), -3.5 -> -4
  // row 1: max 254 -> scale 2; x/2 = 127, 1.5 -> 2, -0.5 -> -0
  // row 2: all zero stays zero
  std::vector<float> x = {127, -3.5f, 2.5f, 0.5f, 254, 3, -1, 0, 0, 0, 0, 0};
  fake_quantize_int8_per_token(x.data(), 3, 4);
  const std::vector<float> want = {127, -4, 2, 0, 254, 4, -0.0f, 0, 0, 0, 0, 0};
  EXPECT_EQ(x, want);
}

TEST(RuntimeQuant, Fp8PerTokenByHand) {
  // row 0: max 448 -> scale 1: 1.1 -> 1.125, -300 -> -288; row 1: scale 2, same codes doubled
  std::vector<float> x = {448, 1.1f, -300, 896, 2.2f, -600, 0, 0, 0};
  fake_quantize_fp8_per_token(x.data(), 3, 3);
  const std::vector<float> want = {448, 1.125f, -288, 896, 2.25f, -576, 0, 0, 0};
  EXPECT_EQ(x, want);
}

TEST(RuntimeQuant, StaticScalesSaturate) {
  // int8 at scale 0.5: x/s = 2, 200 -> 127, -200 -> -128, 0.5 -> 0 (even)
  std::vector<float> a = {1.0f, 100, -100, 0.25f};
  fake_quantize_int8_static(a.data(), 4, 0.5f);
  EXPECT_EQ(a, (std::vector<float>{1, 63.5f, -64, 0}));
  // FP8 at scale 2: 1000/2 = 500 saturates to 448; 3/2 = 1.5 exact
  std::vector<float> b = {1000, 3, -1000};
  fake_quantize_fp8_static(b.data(), 3, 2.0f);
  EXPECT_EQ(b, (std::vector<float>{896, 3, -896}));
  EXPECT_THROW(fake_quantize_fp8_static(b.data(), 3, 0.0f), Error);
}

TEST(RuntimeQuant, OnlyQuantizedInputsAreTouched) {
  LinearInputQuant q;
  q.type = ActQuantType::Int8;
  q.quantized_inputs = {1, 0, 1, 1};  // layer 0: o_proj left in full precision
  std::vector<float> x = {127, 0.5f};
  fake_quantize_linear_input(q, 0, LinearSlot::O, x.data(), 1, 2);
  EXPECT_EQ(x[1], 0.5f);
  fake_quantize_linear_input(q, 0, LinearSlot::QKV, x.data(), 1, 2);
  EXPECT_EQ(x[1], 0.0f);
  q.dynamic = false;  // static without scales: an error, not a silent scale
  EXPECT_THROW(fake_quantize_linear_input(q, 0, LinearSlot::QKV, x.data(), 1, 2), Error);
}

// Quantizes every linear input per token to int8, written independently of runtime_quant.cpp.
struct ReferenceInt8Hooks : ForwardHooks {
  int calls = 0;
  void on_linear_input(int, LinearSlot, int, float* X, int64_t T, int64_t in) override {
    ++calls;
    for (int64_t t = 0; t < T; ++t) {
      float amax = 0;
      for (int64_t j = 0; j < in; ++j) amax = std::max(amax, std::fabs(X[t * in + j]));
      if (amax == 0) continue;
      for (int64_t j = 0; j < in; ++j) {
        float& v = X[t * in + j];
        v = std::clamp(std::nearbyint(v * (127.0f / amax)), -128.0f, 127.0f) * (amax / 127.0f);
      }
    }
  }
};

void expect_runtime_matches_hook(const std::string& model_name, int expected_calls_per_layer) {
  const LoadedModel& m = test::cached_model(model_name);
  const std::vector<int32_t> tokens(test::wiki_tokens(*m.tokenizer).begin(), test::wiki_tokens(*m.tokenizer).begin() + 48);
  auto quantized = std::make_shared<ModelWeights>(*m.weights);
  quantized->runtime.inputs.type = ActQuantType::Int8;
  const std::vector<float> sim = test::logits_of(quantized, tokens);

  Transformer plain(m.weights);
  ReferenceInt8Hooks hooks;
  KvCache cache = plain.make_cache(int64_t(tokens.size()));
  std::vector<float> ref;
  plain.forward(tokens.data(), int64_t(tokens.size()), cache, ref, 0, &hooks);
  if (expected_calls_per_layer > 0) EXPECT_EQ(hooks.calls, expected_calls_per_layer * m.weights->cfg.n_layers);
  const std::vector<float> fp = test::logits_of(m.weights, tokens);
  ASSERT_EQ(sim.size(), ref.size());
  double max_diff = 0, max_change = 0;
  for (size_t i = 0; i < sim.size(); ++i) {
    max_diff = std::max(max_diff, double(std::fabs(sim[i] - ref[i])));
    max_change = std::max(max_change, double(std::fabs(sim[i] - fp[i])));
  }
  EXPECT_LT(max_diff, 1e-3) << model_name;
  EXPECT_GT(max_change, 1e-2) << model_name << ": the simulation must change the logits";
}

TEST(RuntimeQuant, ForwardPassQuantizesEveryLinearInput) { expect_runtime_matches_hook("tiny-llama", 4); }

// MoE: each expert's input is quantized, the router reads the unquantized norm output.
TEST(RuntimeQuant, ForwardPassMoeLeavesTheRouterInFullPrecision) { expect_runtime_matches_hook("tiny-qwen3moe", 0); }

struct KvSpy : ForwardHooks {
  std::vector<float> k, v;
  void on_kv_cache(int layer, const float* K, const float* V, int64_t T, int64_t d) override {
    if (layer == 1) k.assign(K, K + T * d), v.assign(V, V + T * d);
  }
};

TEST(RuntimeQuant, Fp8KvCacheStoresScaledE4M3) {
  const LoadedModel& m = test::cached_model("tiny-llama");
  auto w = std::make_shared<ModelWeights>(*m.weights);
  const int64_t L = w->cfg.n_layers;
  w->runtime.kv = {true, std::vector<float>(size_t(L), 0.01f), std::vector<float>(size_t(L), 0.02f)};
  Transformer model(w);
  const std::vector<int32_t> tokens(test::wiki_tokens(*m.tokenizer).begin(), test::wiki_tokens(*m.tokenizer).begin() + 16);
  KvCache cache = model.make_cache(16);
  KvSpy spy;
  std::vector<float> logits;
  model.forward(tokens.data(), 16, cache, logits, 0, &spy);
  ASSERT_EQ(spy.k.size(), size_t(16 * w->cfg.kv_dim()));
  int saturated = 0;
  for (size_t i = 0; i < spy.k.size(); ++i) {
    EXPECT_EQ(cache.k[1][i], fp::decode_e4m3(fp::encode_e4m3(spy.k[i] / 0.01f)) * 0.01f) << i;
    EXPECT_EQ(cache.v[1][i], fp::decode_e4m3(fp::encode_e4m3(spy.v[i] / 0.02f)) * 0.02f) << i;
    saturated += std::fabs(spy.k[i]) > 448 * 0.01f;
  }
  EXPECT_LT(saturated, int(spy.k.size()));
}

}  // namespace
}  // namespace llmq
