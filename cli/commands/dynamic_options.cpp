#include "dynamic_options.h"

#include <fmt/format.h>

#include "mixed/type_ladder.h"
#include "util/byte_size.h"
#include "util/error.h"

namespace llmq::cli {

void add_dynamic_options(CLI::App* cmd, DynamicArgs& a, bool with_profile) {
  if (with_profile) {
    cmd->add_option("--profile", a.profile,
                    "Dynamic profile: attention-high, balanced (default), compression-max, or a .dqprofile file");
    cmd->add_option("--llama-tensor-types", a.llama_tensor_types,
                    "Also write the allocation as a llama-quantize --tensor-type-file (one anchored NAME=type per line)");
  }
  a.o_bpw = cmd->add_option("--target-bpw", a.target_bpw, "Budget: average bits per weight over the whole file's tensors (gguf) or over the quantized linears, scales and "
                             "zeros included (gptq/rtn: a width per linear)")
                ->check(CLI::PositiveNumber);
  a.o_size = cmd->add_option("--target-size", a.target_size,
                             "Budget: GGUF file size, or the safetensors files of a gptq/rtn checkpoint; e.g. 3.0GB, 2.5GiB, 800MB");
  a.o_bpw->excludes(a.o_size);
  a.o_min = cmd->add_option("--min-bits", a.min_bits, "Smallest bit class of the candidate types (Q2_K, IQ2_* = 2; gptq/rtn: smallest width)")
                ->check(CLI::NonNegativeNumber);
  a.o_max = cmd->add_option("--max-bits", a.max_bits, "Largest bit class of the candidate types (Q8_0 = 8; gptq/rtn: largest width)")
                ->check(CLI::NonNegativeNumber);
  cmd->add_option("--ladder", a.ladder, "Candidate types, comma-separated (default: every type of the standard ladder this build writes)");
  cmd->add_option("--sensitivity", a.sensitivity,
                  "fast: importance-weighted weight error; accurate: KL divergence of the logits per tensor and type; "
                  "hybrid: KL at two types per tensor, the others along the fast curve (gptq/rtn budgets: per linear and "
                  "width; default hybrid when calibration text is found)")
      ->check(CLI::IsMember({"fast", "accurate", "hybrid"}));
  cmd->add_option("--sensitivity-cache", a.sensitivity_cache,
                  "Measurement cache, reused and resumed (default: <imatrix>.sensitivity-<mode>.json)");
  cmd->add_flag("--no-sensitivity-cache", a.no_sensitivity_cache, "Keep no measurement cache on disk");
  cmd->add_option("--sensitivity-data", a.sensitivity_data, "Accurate/hybrid: calibration text (default: the calibration text analyze uses)");
  cmd->add_option("--sensitivity-windows", a.sensitivity_windows, "Accurate/hybrid: windows of calibration text")
      ->capture_default_str()->check(CLI::Range(int64_t(1), int64_t(4096)));
  cmd->add_option("--sensitivity-ctx", a.sensitivity_ctx, "Accurate/hybrid: tokens per window")
      ->capture_default_str()->check(CLI::Range(int64_t(2), int64_t(1) << 16));
  cmd->add_flag("--dynamic-experts", a.dynamic_experts,
                "MoE: expert tensors by routing counts (from the importance matrix): per layer in GGUF, which stacks experts; "
                "per expert with rtn/gptq --format-out gptq or compressed-tensors");
  a.o_emin = cmd->add_option("--expert-min-bits", a.expert_min_bits, "MoE: smallest bit class of expert tensors")
                 ->capture_default_str()->check(CLI::NonNegativeNumber);
  a.o_emax = cmd->add_option("--expert-max-bits", a.expert_max_bits, "MoE: largest bit class of expert tensors")
                 ->capture_default_str()->check(CLI::NonNegativeNumber);
  a.o_hot = cmd->add_option("--hot-expert-fraction", a.hot_fraction, "MoE: share of experts (by routed tokens) that is hot")
                ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->add_flag("--protect-super-weights", a.protect_super_weights,
                "Keep tensors holding super weights (analyze --identify-super-weights) at --super-weight-type "
                "(gguf), unquantized (gptq/awq/rtn)");
  cmd->add_option("--super-weights", a.super_weights, "Super-weight list (default: <imatrix>.superweights.json)");
  cmd->add_option("--super-weight-type", a.super_weight_type, "Type of protected tensors (default Q8_0)");
}

DynamicProfile resolve_profile(const DynamicArgs& a, const std::string& base) {
  DynamicProfile p = load_profile(base.empty() ? kDefaultProfile : base);
  const bool new_budget = a.o_bpw->count() > 0 || a.o_size->count() > 0;
  if (a.o_bpw->count()) {
    p.target_bpw = a.target_bpw;
    p.target_bytes.reset();
  }
  if (a.o_size->count()) {
    p.target_bytes = parse_byte_size(a.target_size, "--target-size");
    p.target_bpw.reset();
  }
  if (new_budget) p.tensor_types.clear();  // a new budget means a new allocation
  if (a.o_min->count()) p.bits.min_bits = a.min_bits;
  if (a.o_max->count()) p.bits.max_bits = a.max_bits;
  if (p.bits.min_bits > p.bits.max_bits) fail("--min-bits {:g} is above --max-bits {:g}", p.bits.min_bits, p.bits.max_bits);
  if (!a.ladder.empty()) p.ladder = parse_type_list(a.ladder, "--ladder");
  if (!a.sensitivity.empty()) p.sensitivity = *sensitivity_mode_from_name(a.sensitivity);
  if (a.dynamic_experts) p.experts.dynamic = true;
  if (a.o_emin->count()) p.experts.bits.min_bits = a.expert_min_bits;
  if (a.o_emax->count()) p.experts.bits.max_bits = a.expert_max_bits;
  if (p.experts.bits.min_bits > p.experts.bits.max_bits)
    fail("--expert-min-bits {:g} is above --expert-max-bits {:g}", p.experts.bits.min_bits, p.experts.bits.max_bits);
  if (a.o_hot->count()) p.experts.hot_fraction = a.hot_fraction;
  if (a.protect_super_weights) p.protect_super_weights = true;
  if (!a.super_weight_type.empty()) p.super_weight_type = parse_type_list(a.super_weight_type, "--super-weight-type").front();
  return p;
}

void apply_run_options(const DynamicArgs& a, DynamicQuantOptions& o) {
  o.sensitivity_cache = a.sensitivity_cache;
  o.no_sensitivity_cache = a.no_sensitivity_cache;
  o.sensitivity_data = a.sensitivity_data;
  o.kld.windows = a.sensitivity_windows;
  o.kld.ctx = a.sensitivity_ctx;
  o.super_weights_path = a.super_weights;
}

}  // namespace llmq::cli
