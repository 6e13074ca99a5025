// `quality report` / `quality compare` end to end on tiny-llama and rounded
// copies of it written as model directories.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/run_cli.h"
#include "eval/logit_store.h"
#include "eval/quality_eval.h"
#include "quality/quality_test_support.h"

using namespace llmq;
using test::q;
using test::run_cli;
namespace fs = std::filesystem;

namespace {

// Two rounded copies of tiny-llama, written once for the whole suite.
struct Models {
  test::TempDir dir;
  std::string base = test::model_dir("tiny-llama"), q8 = dir / "tiny-q8", q3 = dir / "tiny-q3";
  std::string data = test::data_file("wikitext2_test.txt");
  Models() {
    test::write_model_dir(*test::rounded_copy(*test::tiny_llama().weights, 8), q8);
    test::write_model_dir(*test::rounded_copy(*test::tiny_llama().weights, 3), q3);
  }
};

const Models& models() {
  static const Models m;
  return m;
}

const std::string kWindows = " --ctx 64 --chunks 2 -q";

}  // namespace

TEST(QualityCli, ReportJsonMatchesTheLibrary) {
  const Models& m = models();
  const test::CliResult r =
      run_cli("quality report " + q(m.base) + " " + q(m.q3) + " -f " + q(m.data) + kWindows + " --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["is_base"], true);
  EXPECT_EQ(j[0]["model"], "tiny-llama");
  EXPECT_EQ(j[1]["model"], "tiny-q3");
  EXPECT_EQ(j[1]["tokens"], 64);
  for (const char* key : {"perplexity", "ppl_delta_pct", "kld_mean", "kld_p99", "top1_agreement", "same_top_p",
                          "file_bytes", "bpw"})
    EXPECT_TRUE(j[1][key].is_number()) << key;
  EXPECT_NEAR(j[1]["bpw"].get<double>(), 16.0, 0.01);  // bf16 on disk

  // The same numbers in-process, with the weights loaded as the CLI loads them (lazy).
  const LoadedModel base = load_model(m.base, {.lazy = true}), q3 = load_model(m.q3, {.lazy = true});
  const std::vector<int32_t> tokens = base.tokenizer->encode(test::read_file(m.data));
  const BaseLogits b = compute_base_logits(Transformer(base.weights), tokens, plan_windows(int64_t(tokens.size()), 64, 2), {});
  const QualityMetrics want = evaluate_quality(Transformer(q3.weights), b, {});
  // To float rounding (1e-6 relative): BLAS sums in another process may split
  // differently among threads and round the last bits differently.
  EXPECT_NEAR(j[1]["kld_mean"].get<double>(), want.kld_mean, 1e-6 * want.kld_mean);
  EXPECT_NEAR(j[1]["perplexity"].get<double>(), want.ppl, 1e-6 * want.ppl);
  EXPECT_NEAR(j[0]["perplexity"].get<double>(), want.ppl_base, 1e-6 * want.ppl_base);
  EXPECT_GT(want.kld_mean, 0.01);
}

TEST(QualityCli, GateFailureExitsWith3AndExplains) {
  const Models& m = models();
  const test::CliResult r =
      run_cli("quality report " + q(m.base) + " " + q(m.q3) + " -f " + q(m.data) + kWindows + " --max-kld 0.001");
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find("Quality degradation exceeds threshold"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("mean KL divergence"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("limit 0.001"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("llm-quantize analyze"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("Mean KLD"), std::string::npos);  // the report itself is still printed

  const test::CliResult ok = run_cli("quality report " + q(m.base) + " " + q(m.q8) + " -f " + q(m.data) + kWindows +
                                     " --max-kld 0.05 --max-ppl-increase 5");
  EXPECT_EQ(ok.code, 0) << ok.err;
  const test::CliResult ppl = run_cli("quality report " + q(m.base) + " " + q(m.q3) + " -f " + q(m.data) + kWindows +
                                      " --max-ppl-increase 1 --format json");
  EXPECT_EQ(ppl.code, 3);
  EXPECT_NE(ppl.err.find("perplexity"), std::string::npos);
  const nlohmann::json j = nlohmann::json::parse(ppl.out);
  EXPECT_EQ(j[1]["gate"]["passed"], false);
}

TEST(QualityCli, CompareReusesSavedBaseLogitsAndPlots) {
  const Models& m = models();
  test::TempDir dir;
  const std::string logits = dir / "base.logits", svg = dir / "plot.svg";
  const std::string cmd = "quality compare " + q(m.base) + " " + q(m.q3) + " " + q(m.q8) + kWindows +
                          " --base-logits " + q(logits) + " --format json";
  const test::CliResult first = run_cli(cmd + " -f " + q(m.data));
  ASSERT_EQ(first.code, 0) << first.err;
  ASSERT_TRUE(fs::exists(logits));
  const auto written = fs::last_write_time(logits);

  // Second run: no --data needed, the file is read, not rewritten, and the numbers are identical.
  const test::CliResult second = run_cli(cmd + " --plot " + q(svg));
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_EQ(fs::last_write_time(logits), written);
  const nlohmann::json a = nlohmann::json::parse(first.out), b = nlohmann::json::parse(second.out);
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  for (size_t i = 0; i < 3; ++i)
    for (const char* key : {"model", "perplexity", "kld_mean", "kld_p99", "top1_agreement", "same_top_p", "bpw"})
      EXPECT_EQ(a[i][key], b[i][key]) << i << " " << key;
  EXPECT_EQ(b[0]["is_base"], true);
  EXPECT_LT(b[1]["kld_mean"].get<double>(), b[2]["kld_mean"].get<double>() + 1.0);  // both rows present
  const std::string plot = test::read_file(svg);
  EXPECT_NE(plot.find(">tiny-q3</text>"), std::string::npos);
  EXPECT_NE(plot.find(">tiny-q8</text>"), std::string::npos);

  // Other text cannot reuse the file; the same text can.
  const std::string other = dir / "other.txt";
  std::ofstream(other) << test::read_file(test::data_file("calibration.txt")).substr(0, 20000);
  const test::CliResult wrong_text = run_cli(cmd + " -f " + q(other));
  EXPECT_EQ(wrong_text.code, 1);
  EXPECT_NE(wrong_text.err.find("other text"), std::string::npos) << wrong_text.err;
  EXPECT_EQ(run_cli(cmd + " -f " + q(m.data)).code, 0);

  // A different window size cannot reuse the file.
  const test::CliResult clash = run_cli("quality compare " + q(m.base) + " " + q(m.q3) + " --ctx 32 --base-logits " +
                                        q(logits));
  EXPECT_EQ(clash.code, 1);
  EXPECT_NE(clash.err.find("--ctx 64"), std::string::npos) << clash.err;
}

TEST(QualityCli, CompareTextTable) {
  const Models& m = models();
  const test::CliResult r =
      run_cli("quality compare " + q(m.base) + " " + q(m.q8) + " " + q(m.q3) + " -f " + q(m.data) + kWindows);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Model"), std::string::npos);
  EXPECT_NE(r.out.find("| Perplexity"), std::string::npos);
  EXPECT_NE(r.out.find("tiny-llama (base)"), std::string::npos);
  EXPECT_NE(r.out.find("tiny-q8"), std::string::npos);
  EXPECT_NE(r.out.find("tiny-q3"), std::string::npos);
}

TEST(QualityCli, UsageAndInputErrors) {
  const Models& m = models();
  EXPECT_EQ(run_cli("quality compare " + q(m.base)).code, 2);  // no quantized model
  const test::CliResult nodata = run_cli("quality report " + q(m.base) + " " + q(m.q8) + kWindows);
  EXPECT_EQ(nodata.code, 1);
  EXPECT_NE(nodata.err.find("--data"), std::string::npos) << nodata.err;
  EXPECT_EQ(run_cli("quality report " + q(m.base) + " " + q(m.q8) + " -f " + q(m.data) + kWindows + " --top-p 1.5").code, 2);
}
