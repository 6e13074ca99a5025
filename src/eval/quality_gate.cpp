#include "eval/quality_gate.h"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace llmq {

GateVerdict check_quality_gate(const QualityMetrics& m, const QualityThresholds& t) {
  GateVerdict v;
  if (t.max_ppl_increase_pct && m.ppl_delta_pct > *t.max_ppl_increase_pct)
    v.violations.push_back(fmt::format("perplexity {:.4f} vs {:.4f} for the base: {:+.2f}% \u00b1 {:.2f}% (limit +{}%)",
                                       m.ppl, m.ppl_base, m.ppl_delta_pct, m.ppl_delta_pct_stderr,
                                       *t.max_ppl_increase_pct));
  if (t.max_kld && m.kld_mean > *t.max_kld)
    v.violations.push_back(fmt::format("mean KL divergence {:.6f} \u00b1 {:.6f} (limit {}); 99th percentile {:.6f}",
                                       m.kld_mean, m.kld_stderr, *t.max_kld, m.kld_p99));
  v.passed = v.violations.empty();
  return v;
}

std::vector<std::string> higher_bit_presets(const std::string& dtype) {
  // Roughly increasing bits per weight.
  static const std::array<const char*, 14> ladder = {"IQ2_XS", "Q2_K",   "Q3_K_S", "Q3_K_M", "Q3_K_L",
                                                     "Q4_0",   "Q4_K_S", "Q4_K_M", "Q5_0",   "Q5_K_S",
                                                     "Q5_K_M", "Q6_K",   "Q8_0",   "F16"};
  std::string up = dtype;
  for (char& c : up) c = char(std::toupper(static_cast<unsigned char>(c)));
  auto it = std::find(ladder.begin(), ladder.end(), up);
  std::vector<std::string> out;
  if (it == ladder.end()) return out;
  for (++it; it != ladder.end() && out.size() < 2; ++it) out.emplace_back(*it);
  return out;
}

std::string quality_gate_message(const std::string& model_label, const std::string& dtype, const GateVerdict& v) {
  std::string s = fmt::format("Quality degradation exceeds threshold for {}{}:\n", model_label,
                              dtype.empty() ? "" : " (" + dtype + ")");
  for (const std::string& line : v.violations) s += "  " + line + "\n";
  s += "What to try:\n";
  const std::vector<std::string> up = higher_bit_presets(dtype);
  if (!up.empty())
    s += fmt::format("  - a higher-bit preset: {} instead of {}\n", fmt::join(up, " or "), dtype);
  else
    s += "  - a higher-bit preset (more bits per weight)\n";
  s += "  - an importance matrix: `llm-quantize analyze ORIGINAL -o model.imatrix`, then quantize with it\n";
  s += "  - keep the output and token-embedding tensors at higher precision (e.g. Q8_0 or F16)\n";
  s += "  - a dynamic profile that gives the most sensitive layers more bits";
  return s;
}

}  // namespace llmq
