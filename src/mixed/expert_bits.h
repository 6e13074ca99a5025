#pragma once
// Per-expert bit widths for the Hugging Face integer formats, which store
// every expert's projections as modules of their own (unlike GGUF, which
// stacks a layer's experts in one tensor: expert_plan.h). The tiers are the
// same (assign_expert_tiers); cold experts get the smallest width of the
// range the format can store, hot experts the largest, average experts the
// one nearest the middle of the range.
#include <map>
#include <string>
#include <vector>

#include "export/hf/hf_quant_format.h"
#include "mixed/expert_plan.h"
#include "model/config.h"

namespace llmq {

struct ExpertBitWidths {
  int cold = 2, average = 4, hot = 8;
};

// From `available` (format_bit_widths) within [range.min_bits, range.max_bits].
// Throws llmq::Error naming `format_name` when no width lies in the range.
ExpertBitWidths expert_bit_widths(const std::vector<int>& available, const BitRange& range, const std::string& format_name);

struct LayerExpertBits {
  int layer = 0;
  std::vector<int64_t> counts;    // routed tokens per expert
  std::vector<ExpertTier> tiers;  // per expert
  std::vector<int> bits;          // per expert
  double mean_bits = 0;           // over experts
};

struct ExpertBitsPlan {
  ExpertBitWidths widths;
  std::vector<LayerExpertBits> layers;
  // Hugging Face weight name of every expert projection -> bits
  // ("model.layers.0.mlp.experts.3.gate_proj.weight" -> 8).
  std::map<std::string, int> linear_bits;
};

// `routing` as routing_counts_from_imatrix gives it; `opt.bits` bounds the widths.
ExpertBitsPlan plan_expert_bits(const std::map<int, std::vector<int64_t>>& routing, const ModelConfig& cfg,
                                HfQuantFormat format, const ExpertTierOptions& opt);

// The whole step for `quantize MODEL rtn --dynamic-experts`: reads the model's
// config.json and the importance matrix's routing counts. Throws llmq::Error
// naming the file for a dense model or an importance matrix without counts.
ExpertBitsPlan plan_expert_bits_for_model(const std::string& model_dir, const std::string& imatrix_path,
                                          HfQuantFormat format, const ExpertTierOptions& opt);

}  // namespace llmq
