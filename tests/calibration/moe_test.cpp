// MoE routing statistics and per-expert importance on tiny-qwen3moe.
#include <numeric>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "calibration/calibration_pass.h"
#include "calibration/imatrix_builder.h"
#include "calibration/importance_collector.h"
#include "calibration/moe_routing_collector.h"
#include "calibration_test_support.h"
#include "export/gguf/gguf_names.h"

namespace llmq {
namespace {

TEST(MoeCalibration, RoutingCountsSumToTokensTimesTopK) {
  const LoadedModel& m = test::cached_model("tiny-qwen3moe");
  const ModelConfig& c = m.weights->cfg;
  ASSERT_TRUE(c.is_moe());
  Transformer model(m.weights);
  const CalibrationWindows w = test::calibration_windows(m, 2, 32);
  const int64_t tokens = w.tokens();
  ASSERT_EQ(tokens, 64);

  ImportanceCollector imp;
  MoeRoutingCollector routing(c.n_experts);
  CalibrationPass pass(model);
  pass.add(imp);
  pass.add(routing);
  pass.run(w.windows);

  int moe_layers = 0;
  for (int l = 0; l < c.n_layers; ++l) {
    if (!c.layer_is_moe(l)) continue;
    ++moe_layers;
    const MoeRoutingStats& s = routing.layers().at(l);
    ASSERT_EQ(int64_t(s.counts.size()), c.n_experts);
    EXPECT_EQ(std::accumulate(s.counts.begin(), s.counts.end(), int64_t(0)), tokens * c.n_experts_used) << l;
    EXPECT_EQ(s.tokens, tokens);
    EXPECT_EQ(s.top_k, c.n_experts_used);
    // Normalized top-k weights: each token's k weights sum to 1, so all weights sum to the token count.
    EXPECT_NEAR(std::accumulate(s.weight_sum.begin(), s.weight_sum.end(), 0.0), double(tokens), 1e-4);
    for (double mw : s.mean_weight()) EXPECT_LE(mw, 1.0);
  }
  EXPECT_GT(moe_layers, 0);

  const ImatrixData d = build_imatrix(imp, c, gguf_tensor_name, {}, 2, 32);
  for (int l = 0; l < c.n_layers; ++l) {
    if (!c.layer_is_moe(l)) continue;
    for (const char* proj : {"gate", "up", "down"}) {
      const ImatrixEntry& e = d.entries.at(fmt::format("blk.{}.ffn_{}_exps.weight", l, proj));
      ASSERT_EQ(int64_t(e.counts.size()), c.n_experts);
      EXPECT_EQ(std::accumulate(e.counts.begin(), e.counts.end(), int64_t(0)), tokens * c.n_experts_used);
      const int64_t width = std::string(proj) == "down" ? c.moe_ffn : c.hidden;
      EXPECT_EQ(int64_t(e.sums.size()), width * c.n_experts);
      // Per-expert counts are the routing counts.
      for (int64_t x = 0; x < c.n_experts; ++x) EXPECT_EQ(e.counts[size_t(x)], routing.layers().at(l).counts[size_t(x)]);
    }
    EXPECT_EQ(d.entries.at(fmt::format("blk.{}.attn_q.weight", l)).counts, std::vector<int64_t>{tokens});
  }
}

}  // namespace
}  // namespace llmq
