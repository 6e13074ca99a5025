#include "mixed/expert_plan.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "util/error.h"

namespace llmq {

using ggml::GgmlType;

std::map<int, std::vector<int64_t>> routing_counts_from_imatrix(const ImatrixFile& imatrix, const ModelConfig& cfg,
                                                                const std::string& imatrix_path) {
  std::map<int, std::vector<int64_t>> out;
  if (cfg.n_experts <= 1) return out;
  if (imatrix.is_legacy())
    throw file_error(imatrix_path, "a legacy .dat importance matrix keeps no per-expert token counts; "
                                   "--dynamic-experts needs one in GGUF format (llm-quantize analyze writes it)");
  for (int l = 0; l < int(cfg.n_layers); ++l) {
    if (!cfg.layer_is_moe(l)) continue;
    // gate and up read the same routed tokens; down too. Take the first present.
    for (const char* proj : {"ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"}) {
      const std::string name = fmt::format("blk.{}.{}.weight", l, proj);
      if (imatrix.n_matrices(name) != cfg.n_experts) continue;
      std::vector<int64_t> c(size_t(cfg.n_experts));
      for (int64_t e = 0; e < cfg.n_experts; ++e) c[size_t(e)] = imatrix.tokens(name, int(e));
      out[l] = std::move(c);
      break;
    }
    if (!out.count(l))
      throw file_error(imatrix_path, fmt::format("has no per-expert entry for layer {} (blk.{}.ffn_gate_exps.weight)", l, l));
  }
  return out;
}

const char* expert_tier_name(ExpertTier t) {
  switch (t) {
    case ExpertTier::Hot: return "hot";
    case ExpertTier::Average: return "average";
    case ExpertTier::Cold: return "cold";
  }
  return "?";
}

std::vector<ExpertTier> assign_expert_tiers(const std::vector<int64_t>& counts, double hot_fraction, double cold_share) {
  const size_t n = counts.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return counts[a] > counts[b]; });
  const size_t n_hot = n ? std::max<size_t>(1, size_t(std::ceil(hot_fraction * double(n) - 1e-9))) : 0;
  const double total = double(std::accumulate(counts.begin(), counts.end(), int64_t(0)));
  const double mean = n ? total / double(n) : 0.0;
  std::vector<ExpertTier> tiers(n, ExpertTier::Average);
  for (size_t r = 0; r < n; ++r) {
    const size_t e = order[r];
    if (r < n_hot && counts[e] > 0) tiers[e] = ExpertTier::Hot;
    else if (double(counts[e]) < cold_share * mean) tiers[e] = ExpertTier::Cold;
  }
  return tiers;
}

std::vector<LayerExpertPlan> plan_expert_tiers(const std::map<int, std::vector<int64_t>>& routing,
                                               const std::vector<GgmlType>& ladder, int64_t row_length,
                                               const ExpertTierOptions& opt) {
  const std::vector<GgmlType> types = fitting_types(ladder, row_length, opt.bits);
  if (types.empty())
    fail("no type of the ladder ({}) fits expert rows of {} values within bit classes {:g}..{:g}",
         type_list_string(ladder), row_length, opt.bits.min_bits, opt.bits.max_bits);
  auto by_bpw = types;
  std::stable_sort(by_bpw.begin(), by_bpw.end(), [](GgmlType a, GgmlType b) { return ggml::type_bpw(a) < ggml::type_bpw(b); });
  const GgmlType cold_type = by_bpw.front(), hot_type = by_bpw.back();
  // The middle type: nearest the midpoint of the range's bits per weight.
  const double mid = 0.5 * (ggml::type_bpw(cold_type) + ggml::type_bpw(hot_type));
  GgmlType mid_type = by_bpw.front();
  for (GgmlType t : by_bpw)
    if (std::abs(ggml::type_bpw(t) - mid) < std::abs(ggml::type_bpw(mid_type) - mid)) mid_type = t;

  std::vector<LayerExpertPlan> out;
  for (const auto& [layer, counts] : routing) {
    LayerExpertPlan p;
    p.layer = layer;
    p.counts = counts;
    const size_t n = counts.size();
    const double total = double(std::accumulate(counts.begin(), counts.end(), int64_t(0)));
    p.tiers = assign_expert_tiers(counts, opt.hot_fraction, opt.cold_share);
    double routed = 0;
    for (size_t e = 0; e < n; ++e) {
      const GgmlType t = p.tiers[e] == ExpertTier::Hot ? hot_type : p.tiers[e] == ExpertTier::Cold ? cold_type : mid_type;
      p.types.push_back(t);
      p.mean_bpw += ggml::type_bpw(t) / double(n);
      routed += double(counts[e]) * ggml::type_bpw(t);
    }
    p.routed_bpw = total > 0 ? routed / total : p.mean_bpw;
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace llmq
