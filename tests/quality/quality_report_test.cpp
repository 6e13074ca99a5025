// Table, JSON, SVG plot and quality gate from hand-made rows.
#include <regex>

#include <gtest/gtest.h>

#include <algorithm>

#include "eval/plot_svg.h"
#include "eval/quality_gate.h"
#include "eval/quality_report.h"

using namespace llmq;

namespace {

QualityRow row(const std::string& path, uint64_t bytes, double kld, double ppl, bool base = false) {
  QualityRow r;
  r.path = path;
  r.format = base ? "hf" : "gguf";
  r.dtype = base ? "bf16" : "Q4_K_M";
  r.file_bytes = bytes;
  r.n_params = 1000000;
  r.is_base = base;
  r.metrics.ppl = ppl;
  r.metrics.ppl_base = 20.0;
  r.metrics.ppl_delta_pct = 100 * (ppl / 20.0 - 1);
  r.metrics.kld_mean = kld;
  r.metrics.top1_agreement = base ? 1.0 : 1.0 - kld;
  r.metrics.tokens = 512;
  return r;
}

std::vector<QualityRow> sample_rows() {
  std::vector<QualityRow> rows = {row("/m/q4.gguf", 600000, 0.05, 21.0), row("/m/base", 2000000, 0, 20.0, true),
                                  row("/m/q2.gguf", 350000, 0.4, 30.0), row("/m/q8.gguf", 1100000, 0.002, 20.1)};
  assign_labels(rows);
  sort_by_size(rows);
  return rows;
}

}  // namespace

TEST(QualityReport, TableIsSortedBySizeLargestFirst) {
  const std::string t = format_quality_table(sample_rows());
  EXPECT_EQ(t.rfind("Model", 0), 0u);
  for (const char* col : {"Perplexity", "Delta", "KLD", "Top-1", "Size", "BPW"}) EXPECT_NE(t.find(col), std::string::npos);
  const size_t base = t.find("base (base)"), q8 = t.find("q8.gguf"), q4 = t.find("q4.gguf"), q2 = t.find("q2.gguf");
  ASSERT_NE(base, std::string::npos);
  EXPECT_LT(base, q8);
  EXPECT_LT(q8, q4);
  EXPECT_LT(q4, q2);
  EXPECT_NE(t.find("+50.00%"), std::string::npos);  // q2: 30 vs 20
  EXPECT_NE(t.find("0.400000"), std::string::npos);
  EXPECT_NE(t.find("4.80"), std::string::npos);     // q4: 600000 bytes * 8 / 1e6 params
  EXPECT_NE(t.find("1.9 MiB"), std::string::npos);  // base: 2,000,000 bytes
  // Every line has the same number of column separators.
  std::istringstream lines(t);
  for (std::string l; std::getline(lines, l);) EXPECT_EQ(std::count(l.begin(), l.end(), '|'), 6) << l;
}

TEST(QualityReport, JsonCarriesEveryColumn) {
  const nlohmann::json j = nlohmann::json::parse(rows_to_json(sample_rows()).dump());
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 4u);
  for (const auto& r : j)
    for (const char* key : {"model", "path", "perplexity", "perplexity_stderr", "ppl_delta", "ppl_delta_pct",
                            "ppl_delta_pct_stderr", "ln_ppl_ratio", "kld_mean", "kld_stderr", "kld_p99", "kld_median",
                            "kld_max", "top1_agreement", "same_top_p", "top_p", "file_bytes", "size_mib", "bpw",
                            "n_params", "is_base", "dtype", "format", "tokens"})
      EXPECT_TRUE(r.contains(key)) << key;
  EXPECT_EQ(j[0]["model"], "base");
  EXPECT_EQ(j[0]["is_base"], true);
  EXPECT_DOUBLE_EQ(j[3]["bpw"].get<double>(), 2.8);
  EXPECT_DOUBLE_EQ(j[3]["kld_mean"].get<double>(), 0.4);
}

TEST(QualityReport, LabelsFallBackToPathsWhenNamesClash) {
  std::vector<QualityRow> rows = {row("/a/model", 1, 0, 1), row("/b/model/", 2, 0, 1), row("/c/x.gguf", 3, 0, 1)};
  assign_labels(rows);
  EXPECT_EQ(rows[0].label, "/a/model");
  EXPECT_EQ(rows[1].label, "/b/model/");
  EXPECT_EQ(rows[2].label, "x.gguf");
}

TEST(PlotSvg, TicksAreNiceAndCoverTheRange) {
  const AxisTicks t = linear_ticks(2.3, 16.4, 6);
  EXPECT_LE(t.lo, 2.3);
  EXPECT_GE(t.hi, 16.4);
  EXPECT_EQ(t.ticks.front(), 2.0);
  EXPECT_EQ(t.ticks.back(), 18.0);
  EXPECT_NEAR(t.ticks[1] - t.ticks[0], 2.0, 1e-12);
  const AxisTicks l = log_ticks(0.0021, 0.43);
  EXPECT_DOUBLE_EQ(l.lo, 0.001);
  EXPECT_DOUBLE_EQ(l.hi, 1.0);
  EXPECT_NE(std::find(l.ticks.begin(), l.ticks.end(), 0.01), l.ticks.end());
  const AxisTicks one = linear_ticks(5, 5);  // a single value still gets an axis
  EXPECT_LT(one.lo, 5);
  EXPECT_GT(one.hi, 5);
}

TEST(PlotSvg, QualityPlotHasLabelledPointsAndAxes) {
  const std::string svg = quality_plot_svg(sample_rows(), PlotMetric::Both, "test");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at = svg.find(what); at != std::string::npos; at = svg.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("class=\"panel\""), 2u);
  EXPECT_EQ(count("<circle"), 3u + 4u);  // KLD panel leaves the base (KLD 0) out
  EXPECT_EQ(count(">q2.gguf</text>"), 2u);
  EXPECT_EQ(count(">base</text>"), 1u);
  EXPECT_GE(count("class=\"xtick\""), 8u);
  EXPECT_GE(count("class=\"ytick\""), 6u);
  EXPECT_EQ(count("class=\"reference\""), 1u);  // the base perplexity line
  EXPECT_NE(svg.find("bits per weight"), std::string::npos);
  EXPECT_NE(svg.find("(log scale)"), std::string::npos);
}

TEST(PlotSvg, LineJoinsOnlyTheSizeQualityFrontier) {
  // (bpw, KLD): the 7.1 bpw point is larger and worse than the 5.0 one.
  const std::vector<PlotPoint> pts = {{8.5, 0.0001, "q8"}, {3.4, 0.11, "q2"}, {7.1, 0.018, "gptq"}, {5.0, 0.008, "q4"}};
  const std::vector<PlotPoint> f = size_quality_frontier(pts);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].label, "q2");
  EXPECT_EQ(f[1].label, "q4");
  EXPECT_EQ(f[2].label, "q8");
  PlotPanel panel;
  panel.points = pts;
  const std::string svg = render_svg({panel}, "t");
  const size_t at = svg.find("class=\"frontier\" d=\"");
  ASSERT_NE(at, std::string::npos);
  const std::string d = svg.substr(at, svg.find('"', at + 22) - at);
  EXPECT_EQ(std::count(d.begin(), d.end(), 'L'), 2);  // M q2 L q4 L q8
}

TEST(QualityGate, PassesWithinLimitsAndExplainsFailures) {
  QualityMetrics m;
  m.ppl = 22.0;
  m.ppl_base = 20.0;
  m.ppl_delta_pct = 10.0;
  m.kld_mean = 0.08;
  EXPECT_TRUE(check_quality_gate(m, {}).passed);
  EXPECT_TRUE(check_quality_gate(m, {10.0, 0.08}).passed);  // limits are inclusive
  GateVerdict v = check_quality_gate(m, {5.0, std::nullopt});
  ASSERT_FALSE(v.passed);
  ASSERT_EQ(v.violations.size(), 1u);
  EXPECT_NE(v.violations[0].find("+10.00%"), std::string::npos);
  EXPECT_NE(v.violations[0].find("limit +5%"), std::string::npos);
  v = check_quality_gate(m, {5.0, 0.01});
  ASSERT_EQ(v.violations.size(), 2u);
  EXPECT_NE(v.violations[1].find("0.080000"), std::string::npos);
  const std::string msg = quality_gate_message("m.gguf", "Q4_K_M", v);
  EXPECT_EQ(msg.rfind("Quality degradation exceeds threshold", 0), 0u);
  EXPECT_NE(msg.find("Q5_K_S or Q5_K_M instead of Q4_K_M"), std::string::npos);
  EXPECT_NE(msg.find("llm-quantize analyze"), std::string::npos);
  EXPECT_NE(msg.find("output and token-embedding"), std::string::npos);
  EXPECT_NE(msg.find("dynamic"), std::string::npos);
}

TEST(QualityGate, HigherBitPresets) {
  EXPECT_EQ(higher_bit_presets("q2_k"), (std::vector<std::string>{"Q3_K_S", "Q3_K_M"}));
  EXPECT_EQ(higher_bit_presets("Q8_0"), (std::vector<std::string>{"F16"}));
  EXPECT_EQ(higher_bit_presets("Q4_0"), (std::vector<std::string>{"Q4_K_S", "Q4_K_M"}));
  EXPECT_TRUE(higher_bit_presets("F16").empty());
  EXPECT_TRUE(higher_bit_presets("bf16").empty());
}
