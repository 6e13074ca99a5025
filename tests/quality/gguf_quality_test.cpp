// A real quantized file: tiny-llama exported as a Q4_0 GGUF, loaded back
// (dequantized), compared with the original, and checked against the direct
// full-precision computation; then the CLI's row for it.
#include <gtest/gtest.h>

#include "common/run_cli.h"
#include "eval/logit_store.h"
#include "eval/quality_eval.h"
#include "export/gguf/gguf_exporter.h"
#include "export/gguf/gguf_model_loader.h"
#include "quality/quality_test_support.h"

using namespace llmq;

TEST(GgufQuality, Q4_0FileMatchesDirectComputation) {
  register_gguf_model_loader();
  test::TempDir dir;
  GgufExportOptions o;
  o.quant.preset = GgufPreset::Q4_0;
  o.output = dir / "tiny-Q4_0.gguf";
  export_gguf(test::model_dir("tiny-llama"), o);

  const LoadedModel q = load_model(o.output, {.lazy = true});  // as the CLI loads it
  EXPECT_EQ(q.format, "gguf");
  EXPECT_GT(q.file_bytes, 0u);
  const double bpw = double(q.file_bytes) * 8.0 / double(q.n_params);
  EXPECT_GT(bpw, 4.4);  // Q4_0 is 4.5 bits per weight; the preset keeps the output at Q6_K
  EXPECT_LT(bpw, 6.0);

  const LoadedModel tiny = load_model(test::model_dir("tiny-llama"), {.lazy = true});
  const Transformer base(tiny.weights), model(q.weights);
  const std::vector<int32_t>& tokens = test::wikitext_tokens();
  const BaseLogits b = compute_base_logits(base, tokens, plan_windows(int64_t(tokens.size()), 64, 2), {});
  const QualityMetrics m = evaluate_quality(model, b, {});
  const test::DirectMetrics d = test::direct_metrics(base, model, tokens, 64, 2, 0.9);
  ASSERT_GT(d.mean_kld, 1e-3);
  EXPECT_NEAR(m.kld_mean, d.mean_kld, 1e-4 * d.mean_kld);
  EXPECT_NEAR(m.ln_ppl_ratio, d.nll_model - d.nll_base, 1e-6);
  EXPECT_DOUBLE_EQ(m.top1_agreement, d.top1);

  // The CLI reports the file's size and bits per weight from the GGUF.
  const test::CliResult r = test::run_cli("quality report " + test::q(test::model_dir("tiny-llama")) + " " +
                                          test::q(o.output) + " -f " + test::q(test::data_file("wikitext2_test.txt")) +
                                          " --ctx 64 --chunks 2 -q --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[1]["model"], "tiny-Q4_0.gguf");
  EXPECT_EQ(j[1]["format"], "gguf");
  EXPECT_EQ(j[1]["file_bytes"].get<uint64_t>(), q.file_bytes);
  EXPECT_NEAR(j[1]["bpw"].get<double>(), bpw, 1e-9);
  EXPECT_NEAR(j[1]["kld_mean"].get<double>(), m.kld_mean, 1e-5 * m.kld_mean);  // another process: float rounding
}
