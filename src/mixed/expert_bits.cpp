#include "mixed/expert_bits.h"

#include <cmath>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "calibration/imatrix_file.h"
#include "calibration/model_fingerprint.h"
#include "io/hf_checkpoint.h"
#include "util/error.h"
#include "util/json_file.h"

namespace fs = std::filesystem;

namespace llmq {

ExpertBitWidths expert_bit_widths(const std::vector<int>& available, const BitRange& range, const std::string& format_name) {
  std::vector<int> in_range;
  for (int b : available)
    if (b >= range.min_bits && b <= range.max_bits) in_range.push_back(b);
  if (in_range.empty())
    fail("{} output stores {} bits; none lies within --expert-min-bits {:g} .. --expert-max-bits {:g}", format_name,
         fmt::join(available, "/"), range.min_bits, range.max_bits);
  ExpertBitWidths w;
  w.cold = in_range.front();
  w.hot = in_range.back();
  // Ties go to the smaller width, as for the GGUF middle type.
  const double mid = 0.5 * (w.cold + w.hot);
  w.average = w.cold;
  for (int b : in_range)
    if (std::abs(b - mid) < std::abs(w.average - mid)) w.average = b;
  return w;
}

ExpertBitsPlan plan_expert_bits(const std::map<int, std::vector<int64_t>>& routing, const ModelConfig& cfg,
                                HfQuantFormat format, const ExpertTierOptions& opt) {
  ExpertBitsPlan plan;
  plan.widths = expert_bit_widths(format_bit_widths(format), opt.bits, hf_quant_format_name(format));
  const bool mixtral = cfg.arch == Arch::Mixtral;
  const char* projections[3][2] = {{"gate_proj", "w1"}, {"up_proj", "w3"}, {"down_proj", "w2"}};
  for (const auto& [layer, counts] : routing) {
    LayerExpertBits l;
    l.layer = layer;
    l.counts = counts;
    l.tiers = assign_expert_tiers(counts, opt.hot_fraction, opt.cold_share);
    for (size_t e = 0; e < counts.size(); ++e) {
      const int bits = l.tiers[e] == ExpertTier::Hot    ? plan.widths.hot
                       : l.tiers[e] == ExpertTier::Cold ? plan.widths.cold
                                                        : plan.widths.average;
      l.bits.push_back(bits);
      l.mean_bits += double(bits) / double(counts.size());
      for (const auto& proj : projections)
        plan.linear_bits[fmt::format("model.layers.{}.{}.experts.{}.{}.weight", layer, mixtral ? "block_sparse_moe" : "mlp",
                                     e, proj[mixtral ? 1 : 0])] = bits;
    }
    plan.layers.push_back(std::move(l));
  }
  return plan;
}

ExpertBitsPlan plan_expert_bits_for_model(const std::string& model_dir, const std::string& imatrix_path,
                                          HfQuantFormat format, const ExpertTierOptions& opt) {
  const std::string cfg_path = (fs::path(model_dir) / "config.json").string();
  if (!fs::exists(cfg_path)) throw file_error(model_dir, "not a Hugging Face model directory (no config.json)");
  const ModelConfig cfg = ModelConfig::from_json(read_json_file(cfg_path), cfg_path);
  if (cfg.n_experts <= 1)
    throw file_error(cfg_path, "is not a mixture-of-experts model: --dynamic-experts needs experts to allocate bits to");
  if (imatrix_path.empty()) fail("--dynamic-experts needs --imatrix FILE (routing counts; make one with llm-quantize analyze)");
  const ImatrixFile imatrix = open_imatrix_for_model(imatrix_path, model_dir, cfg.n_experts);
  return plan_expert_bits(routing_counts_from_imatrix(imatrix, cfg, imatrix_path), cfg, format, opt);
}

}  // namespace llmq
