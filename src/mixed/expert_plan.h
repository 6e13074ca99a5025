#pragma once
// Per-expert bit allocation of MoE layers from routing counts ("Trellis v2"
// tiers): in each layer the hot experts (the top `hot_fraction` by routed
// tokens) get the largest type of the expert bit range, cold experts (fewer
// than `cold_share` of the layer's mean tokens) the smallest, the rest a type
// in the middle of the range.
//
// GGUF stores the experts of a layer stacked in one tensor per projection
// (ffn_{gate,up,down}_exps), and a tensor has one type, so a GGUF file
// cannot hold this per-expert plan: there the allocation is per layer (the
// allocator's choice for the stacked tensor, with each expert's sensitivity
// weighted by its routing share). The per-expert plan is reported alongside,
// with the routing-weighted bits it implies per layer.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "calibration/imatrix_file.h"
#include "mixed/type_ladder.h"
#include "model/config.h"

namespace llmq {

// layer -> tokens routed to each expert, from the per-expert token counts an
// importance matrix in GGUF format keeps for stacked expert tensors (the
// counts analyze's routing statistics report). Empty for dense models.
// Throws llmq::Error naming `imatrix_path` for a legacy .dat file, which
// keeps no per-expert counts.
std::map<int, std::vector<int64_t>> routing_counts_from_imatrix(const ImatrixFile& imatrix, const ModelConfig& cfg,
                                                                const std::string& imatrix_path);

enum class ExpertTier { Cold, Average, Hot };
const char* expert_tier_name(ExpertTier t);

struct ExpertTierOptions {
  double hot_fraction = 0.10;  // top share of experts (by routed tokens) that is hot
  double cold_share = 0.5;     // below this fraction of the mean tokens: cold
  BitRange bits{2, 8};         // --expert-min-bits / --expert-max-bits
};

// The tier of each expert of one layer from its routed tokens: the top
// `hot_fraction` (at least one, if routed at all) hot, fewer than `cold_share`
// of the layer's mean tokens cold, the rest average.
std::vector<ExpertTier> assign_expert_tiers(const std::vector<int64_t>& counts, double hot_fraction, double cold_share);

struct LayerExpertPlan {
  int layer = 0;
  std::vector<int64_t> counts;        // routed tokens per expert
  std::vector<ExpertTier> tiers;      // per expert
  std::vector<ggml::GgmlType> types;  // per expert
  double mean_bpw = 0;                // over experts (what the per-expert plan stores)
  double routed_bpw = 0;              // weighted by routed tokens (what a token meets)
};

// `ladder` and `row_length` (the experts' smallest row length) give the types
// that fit. Throws llmq::Error when no type fits the bit range.
std::vector<LayerExpertPlan> plan_expert_tiers(const std::map<int, std::vector<int64_t>>& routing,
                                               const std::vector<ggml::GgmlType>& ladder, int64_t row_length,
                                               const ExpertTierOptions& opt);

}  // namespace llmq
