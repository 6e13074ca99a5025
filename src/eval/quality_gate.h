#pragma once
// Quality gate: limits on how much worse a quantized model may be than its
// base. Commands that produce or measure a quantized model (quality report,
// quantize) check it and, on failure, print the message and exit with code 3.
#include <optional>
#include <string>
#include <vector>

#include "eval/quality_metrics.h"

namespace llmq {

struct QualityThresholds {
  std::optional<double> max_ppl_increase_pct;  // 100 (PPL / PPL_base - 1) must not exceed this
  std::optional<double> max_kld;                // mean KL(P_base || P_model) must not exceed this
  bool any() const { return max_ppl_increase_pct || max_kld; }
};

struct GateVerdict {
  bool passed = true;
  std::vector<std::string> violations;  // one line per exceeded limit, with measured value and limit
};

GateVerdict check_quality_gate(const QualityMetrics& m, const QualityThresholds& t);

// "Quality degradation exceeds threshold ..." with the numbers and what to
// try next. `dtype` (e.g. "Q4_K_M") picks the higher-bit presets suggested.
std::string quality_gate_message(const std::string& model_label, const std::string& dtype, const GateVerdict& v);

// The next k-quant presets (or Q8_0 / F16) above `dtype` in bits per weight,
// at most two; empty when dtype is not a known preset or nothing is above it.
std::vector<std::string> higher_bit_presets(const std::string& dtype);

}  // namespace llmq
