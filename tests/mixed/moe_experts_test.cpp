// MoE experts on tiny-qwen3moe: the routing counts read from the importance
// matrix are analyze's routing counts, the per-expert tiers follow them, and
// the per-layer allocation of stacked experts follows them too.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "calibration/imatrix_file.h"
#include "mixed/dynamic_quantize.h"
#include "mixed/expert_plan.h"
#include "mixed_test_support.h"

namespace llmq {
namespace {

using ggml::GgmlType;

TEST(MoeExperts, ImatrixCountsAreTheRoutingCounts) {
  const test::CalibratedModel& cm = test::calibrated("tiny-qwen3moe");
  const TensorCatalog& cat = test::catalog("tiny-qwen3moe");
  const auto routing = routing_counts_from_imatrix(ImatrixFile(cm.imatrix_path), cat.config(), cm.imatrix_path);
  ASSERT_EQ(routing.size(), size_t(cat.config().n_layers));
  EXPECT_EQ(routing, cm.routing);
  for (const auto& [l, c] : routing)  // every token fills top-k slots
    EXPECT_EQ(std::accumulate(c.begin(), c.end(), int64_t(0)), 4 * 96 * cat.config().n_experts_used) << l;
}

TEST(MoeExperts, TiersFollowRoutingCounts) {
  const test::CalibratedModel& cm = test::calibrated("tiny-qwen3moe");
  const std::vector<GgmlType> ladder{GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K,
                                     GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_0};
  ExpertTierOptions o;  // hot = top 10% (2 of 16), bits 2..8
  const auto plans = plan_expert_tiers(cm.routing, ladder, 256, o);
  ASSERT_EQ(plans.size(), cm.routing.size());
  for (const LayerExpertPlan& p : plans) {
    const auto& c = p.counts;
    std::vector<size_t> order(c.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return c[a] > c[b]; });
    EXPECT_EQ(p.tiers[order[0]], ExpertTier::Hot);
    EXPECT_EQ(p.tiers[order[1]], ExpertTier::Hot);
    EXPECT_NE(p.tiers[order[2]], ExpertTier::Hot);
    EXPECT_EQ(p.types[order[0]], GgmlType::Q8_0);  // the top of the expert range
    const double mean = double(std::accumulate(c.begin(), c.end(), int64_t(0))) / double(c.size());
    for (size_t e = 0; e < c.size(); ++e) {
      if (p.tiers[e] == ExpertTier::Cold) {
        EXPECT_LT(double(c[e]), 0.5 * mean);
        EXPECT_EQ(p.types[e], GgmlType::Q2_K);
      }
      // More routed tokens never means fewer bits.
      for (size_t f = 0; f < c.size(); ++f)
        if (c[e] > c[f]) EXPECT_GE(ggml::type_bpw(p.types[e]), ggml::type_bpw(p.types[f])) << p.layer;
    }
    EXPECT_GE(p.routed_bpw, p.mean_bpw);  // traffic meets the big types more often
  }
}

// Per-layer allocation of stacked experts: two experts of every layer are
// "fragile" (100x the loss of the others). Routing sends most tokens of
// layer 1 to them and almost none of layer 2's: with --dynamic-experts the
// allocator must give layer 1's expert stacks more bits than layer 2's, and
// without routing weights the two layers weigh the same.
TEST(MoeExperts, StackedAllocationFollowsRoutingCounts) {
  const TensorCatalog& cat = test::catalog("tiny-qwen3moe");
  const int64_t E = cat.config().n_experts;
  AllocationOptions o;
  o.budget = {Budget::Kind::BitsPerWeight, 4.0, 0};
  o.ladder = {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_0};
  o.dynamic_experts = true;
  o.expert_bits = {2, 8};
  for (int l = 0; l < cat.config().n_layers; ++l) {
    std::vector<int64_t> c(size_t(E), 100);
    if (l == 1) c[0] = c[1] = 5000;  // fragile experts busy
    if (l == 2) c[0] = c[1] = 1;     // fragile experts idle
    o.routing[l] = c;
  }
  const auto cands = plan_candidates(cat, o);
  SensitivityTable table;
  for (const TensorCandidates& cd : cands)
    for (GgmlType t : cd.types) {
      TypeSensitivity s;
      const double base = std::pow(4.0, -ggml::type_bpw(t));
      if (cat.find(cd.name)->spec.is_stacked()) {
        for (int64_t e = 0; e < E; ++e) s.experts.push_back(base * (e < 2 ? 100.0 : 1.0));
        s.value = std::accumulate(s.experts.begin(), s.experts.end(), 0.0) / double(E);
      } else {
        s.value = base;
      }
      table.tensors[cd.name][t] = s;
    }
  auto bits_of = [&](const AllocationResult& r, int layer) {
    double bytes = 0, n = 0;
    for (const TensorAllocation& t : r.tensors)
      if (t.name.rfind(fmt::format("blk.{}.", layer), 0) == 0 && t.name.find("_exps.") != std::string::npos)
        bytes += double(t.bytes), n += double(t.n_elements);
    return bytes * 8 / n;
  };
  const AllocationResult dyn = allocate_types(cat, cands, table, o);
  EXPECT_GT(bits_of(dyn, 1), bits_of(dyn, 2) + 1.0);
  // The mechanism: routing shares weight each expert's loss.
  AllocationOptions uniform = o;
  uniform.dynamic_experts = false;
  const std::string l1 = "blk.1.ffn_down_exps.weight", l2 = "blk.2.ffn_down_exps.weight";
  const double u1 = *allocation_sensitivity(table, cat, uniform, l1, GgmlType::Q4_K);
  EXPECT_DOUBLE_EQ(u1, *allocation_sensitivity(table, cat, uniform, l2, GgmlType::Q4_K));
  EXPECT_GT(*allocation_sensitivity(table, cat, o, l1, GgmlType::Q4_K), 5 * u1);
  EXPECT_LT(*allocation_sensitivity(table, cat, o, l2, GgmlType::Q4_K), u1);
}

TEST(MoeExperts, DynamicPlanSaysTheGranularityIsPerLayer) {
  const test::CalibratedModel& cm = test::calibrated("tiny-qwen3moe");
  const TensorCatalog& cat = test::catalog("tiny-qwen3moe");
  DynamicQuantOptions o;
  o.profile = load_profile("balanced");
  o.profile.target_bpw = 4.0;
  o.profile.sensitivity = SensitivityMode::Fast;  // the tiers are under test, not the measure
  o.profile.ladder = {GgmlType::Q2_K, GgmlType::Q4_K, GgmlType::Q6_K};
  o.profile.experts.dynamic = true;
  o.profile.experts.bits = {2, 6};
  o.imatrix_path = cm.imatrix_path;
  o.no_sensitivity_cache = true;
  const DynamicPlan plan = plan_dynamic(cat, o);
  ASSERT_EQ(plan.expert_tiers.size(), size_t(cat.config().n_layers));
  EXPECT_LE(plan.allocation.bpw(), 4.0);
  EXPECT_GE(plan.allocation.bpw(), 0.99 * 4.0);
  for (const TensorAllocation& t : plan.allocation.tensors)
    if (t.name.find("_exps.") != std::string::npos) {
      EXPECT_TRUE(t.allocated);
      EXPECT_LE(bit_class(t.type), 6) << t.name;  // within --expert-max-bits
    }
}

}  // namespace
}  // namespace llmq
