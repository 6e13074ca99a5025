// GPTQ and AWQ on the real fixture models: per-layer reconstruction error
// and perplexity against RTN, the MoE expert fallback.
#include <cstdio>

#include <gtest/gtest.h>

#include "calibration/calibration_pass.h"
#include "calibration/gram_collector.h"
#include "export/hf/layer_linears.h"
#include "export/hf/model_quantizer.h"
#include "gptq_test_support.h"
#include "quant/methods/rtn.h"

namespace llmq {
namespace {

using test::cached_model;
using test::calib_windows;

IntQuantizeOptions options(IntQuantMethod m, int bits = 4, int64_t group = 128) {
  IntQuantizeOptions o;
  o.method = m;
  o.spec.bits = bits;
  o.spec.group_size = group;
  return o;
}

TEST(GptqModel, LayerReconstructionErrorBelowRtnOnTinyLlama) {
  const LoadedModel& m = cached_model("tiny-llama");
  Transformer model(m.weights);
  GramCollector gram({}, {0, 2});
  CalibrationPass pass(model);
  pass.add(gram);
  pass.run(calib_windows(m, 8, 128));
  ModelWeights w = *m.weights;
  int checked = 0;
  for (int layer : {0, 2})
    for (const LayerLinear& l : layer_linears(w, layer)) {
      const GramStats* g = gram.find(l.key);
      ASSERT_NE(g, nullptr);
      const std::vector<double> G = g->matrix();
      IntQuantSpec s;
      s.bits = 4;
      s.group_size = 128;
      const double e_rtn = output_error_from_gram(*l.weight, quantize_rtn(*l.weight, s).dequantize(), G);
      const double e_gptq =
          output_error_from_gram(*l.weight, gptq_quantize(*l.weight, hessian_from_gram(G, g->tokens), s).dequantize(), G);
      EXPECT_LT(e_gptq, 0.9 * e_rtn) << l.name;
      std::printf("%-40s ||(W-Q)X||^2 rtn %.4g gptq %.4g (%.0f%%)\n", l.name.c_str(), e_rtn, e_gptq, 100 * e_gptq / e_rtn);
      ++checked;
    }
  EXPECT_EQ(checked, 14);
}

struct PplRun {
  double fp = 0, rtn = 0, gptq = 0, awq = 0;
};

const PplRun& tiny_llama_ppl() {
  static PplRun r = [] {
    const LoadedModel& m = cached_model("tiny-llama");
    // 8k calibration tokens: with fewer, GPTQ's Hessians (768 wide) overfit and the 4-bit gain drowns in noise.
    const auto windows = calib_windows(m, 32, 256);
    const int64_t chunks = 8, ctx = 256;
    PplRun p;
    p.fp = test::wiki_ppl(m.weights, *m.tokenizer, chunks, ctx);
    p.rtn = test::wiki_ppl(quantize_model_int(*m.weights, {}, options(IntQuantMethod::Rtn)).weights, *m.tokenizer, chunks, ctx);
    p.gptq = test::wiki_ppl(quantize_model_int(*m.weights, windows, options(IntQuantMethod::Gptq)).weights, *m.tokenizer,
                            chunks, ctx);
    // AWQ only picks one exponent per scale group, so fewer tokens and a coarser grid suffice (and keep the test fast).
    IntQuantizeOptions awq = options(IntQuantMethod::Awq);
    awq.awq.grid = 10;
    p.awq = test::wiki_ppl(quantize_model_int(*m.weights, calib_windows(m, 16, 128), awq).weights, *m.tokenizer, chunks, ctx);
    std::printf("tiny-llama wikitext ppl (8 x 256): fp32 %.3f  rtn %.3f  gptq %.3f  awq %.3f\n", p.fp, p.rtn, p.gptq, p.awq);
    return p;
  }();
  return r;
}

TEST(GptqModel, PerplexityNotWorseThanRtn) {
  const PplRun& p = tiny_llama_ppl();
  EXPECT_GT(p.rtn, p.fp);  // 4-bit costs something
  // GPTQ recovers part of RTN's loss: at least a fifth of the gap to fp32.
  EXPECT_LE(p.gptq - p.fp, 0.8 * (p.rtn - p.fp));
}

TEST(AwqModel, PerplexityNotWorseThanRtn) {
  const PplRun& p = tiny_llama_ppl();
  EXPECT_LE(p.awq - p.fp, 0.9 * (p.rtn - p.fp));
}

TEST(GptqModel, NonSequentialAndActOrderRun) {
  const LoadedModel& m = cached_model("tiny-llama");
  const auto windows = calib_windows(m, 4, 128);
  IntQuantizeOptions o = options(IntQuantMethod::Gptq, 3, 64);
  o.sequential = false;
  o.gptq.desc_act = true;
  o.spec.sym = false;
  const QuantizedModel q = quantize_model_int(*m.weights, windows, o);
  EXPECT_EQ(q.linears.size(), 28u);
  bool permuted = false;
  for (const auto& [name, l] : q.linears) permuted |= !l.has_sequential_groups();
  EXPECT_TRUE(permuted);
  EXPECT_TRUE(q.rtn_fallbacks.empty());
}

TEST(GptqModel, MoeExpertsWithFewTokensFallBackToRtn) {
  const LoadedModel& m = cached_model("tiny-qwen3moe");
  const auto windows = calib_windows(m, 2, 64);  // 128 tokens, top-2 of 16 experts: some experts see few
  IntQuantizeOptions o = options(IntQuantMethod::Gptq);
  o.min_expert_tokens = 24;
  const QuantizedModel q = quantize_model_int(*m.weights, windows, o);
  const ModelConfig& c = m.weights->cfg;
  EXPECT_EQ(int64_t(q.linears.size()), c.n_layers * (4 + 3 * c.n_experts));
  EXPECT_FALSE(q.rtn_fallbacks.empty());
  EXPECT_LT(int64_t(q.rtn_fallbacks.size()), c.n_layers * 3 * c.n_experts);
  int gptq_experts = 0;
  for (const auto& [name, rep] : q.report["linears"].items())
    if (name.find("experts") != std::string::npos && rep["method"] == "gptq") ++gptq_experts;
  EXPECT_GT(gptq_experts, 0);
  std::printf("tiny-qwen3moe: %zu of %lld expert linears fell back to RTN\n", q.rtn_fallbacks.size(),
              (long long)(c.n_layers * 3 * c.n_experts));
}

TEST(AwqModel, MoeKeepsRouterExactAndRuns) {
  const LoadedModel& m = cached_model("tiny-qwen3moe");
  const auto windows = calib_windows(m, 2, 64);
  IntQuantizeOptions o = options(IntQuantMethod::Awq);
  o.awq.grid = 5;
  const QuantizedModel q = quantize_model_int(*m.weights, windows, o);
  EXPECT_TRUE(q.report["scales"].contains("L0.experts.gate_up"));
  // Folding s into the norm and the router's columns keeps router logits unchanged: router * norm is invariant.
  const auto& L0 = m.weights->layers[0];
  const auto& Q0 = q.weights->layers[0];
  for (int64_t c = 0; c < m.weights->cfg.hidden; c += 17)
    EXPECT_NEAR(Q0.router.data[size_t(c)] * Q0.ffn_norm.data[size_t(c)], L0.router.data[size_t(c)] * L0.ffn_norm.data[size_t(c)],
                1e-5f * std::fabs(L0.router.data[size_t(c)] * L0.ffn_norm.data[size_t(c)]) + 1e-7f);
}

}  // namespace
}  // namespace llmq
