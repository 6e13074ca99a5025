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
  // Approximate bits per weight of llama.cpp's presets (a 7B llama); the
  // suggestions come from the k-quant ladder, as legacy types are worse at equal size.
  struct Preset {
    const char* name;
    double bpw;
    bool suggest;
  };
  static const std::array<Preset, 17> presets = {{{"Q2_K", 2.96, false},  {"Q3_K_S", 3.50, true},
                                                  {"Q3_K_M", 3.91, true}, {"Q3_K_L", 4.27, true},
                                                  {"Q4_0", 4.34, false},  {"Q4_1", 4.78, false},
                                                  {"Q4_K_S", 4.58, true}, {"Q4_K_M", 4.89, true},
                                                  {"Q5_0", 5.21, false},  {"Q5_1", 5.65, false},
                                                  {"Q5_K_S", 5.54, true}, {"Q5_K_M", 5.70, true},
                                                  {"Q6_K", 6.56, true},   {"Q8_0", 8.50, true},
                                                  {"F16", 16.0, true},    {"BF16", 16.0, false},
                                                  {"F32", 32.0, false}}};
  std::string up = dtype;
  for (char& c : up) c = char(std::toupper(static_cast<unsigned char>(c)));
  auto it = std::find_if(presets.begin(), presets.end(), [&](const Preset& p) { return up == p.name; });
  if (it == presets.end()) return {};
  std::vector<const Preset*> higher;
  for (const Preset& p : presets)
    if (p.suggest && p.bpw > it->bpw) higher.push_back(&p);
  std::sort(higher.begin(), higher.end(), [](const Preset* a, const Preset* b) { return a->bpw < b->bpw; });
  std::vector<std::string> out;
  for (size_t i = 0; i < higher.size() && i < 2; ++i) out.emplace_back(higher[i]->name);
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
  s += "  - an importance matrix: `llm-quantize analyze ORIGINAL -o model.imatrix`, then quantize with "
       "`--imatrix model.imatrix`\n";
  s += "  - keep the output and token-embedding tensors at higher precision: "
       "`--output-tensor-type Q8_0 --token-embedding-type Q8_0` (or `--leave-output-tensor`)\n";
  s += "  - a dynamic profile that gives the most sensitive layers more bits (`--tensor-type PATTERN=TYPE`, "
       "e.g. the first and last blocks' attn_v / ffn_down)";
  return s;
}

}  // namespace llmq
