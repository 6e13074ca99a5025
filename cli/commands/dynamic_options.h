#pragma once
// Options of dynamic mixed precision shared by `quantize ... -q dynamic` and
// `profile create`: budget, ladder bounds, sensitivity measurement, MoE
// experts, super-weight protection. They override the profile's settings.
#include <string>

#include <CLI/CLI.hpp>

#include "mixed/dynamic_quantize.h"
#include "mixed/profile.h"

namespace llmq::cli {

struct DynamicArgs {
  std::string profile;  // built-in name or .dqprofile file ("" = balanced)
  double target_bpw = 0;
  std::string target_size;
  double min_bits = 0, max_bits = 0;
  std::string ladder;
  std::string sensitivity;           // fast | accurate
  std::string sensitivity_cache, sensitivity_data;
  bool no_sensitivity_cache = false;
  int64_t sensitivity_windows = 4, sensitivity_ctx = 512;
  bool dynamic_experts = false;
  double expert_min_bits = 2, expert_max_bits = 8, hot_fraction = 0.1;
  bool protect_super_weights = false;
  std::string super_weights, super_weight_type;
  std::string llama_tensor_types;    // quantize: also write the plan as a llama-quantize --tensor-type-file
  // Which options were given (CLI11 2.1 has no std::optional options).
  CLI::Option *o_bpw = nullptr, *o_size = nullptr, *o_min = nullptr, *o_max = nullptr, *o_emin = nullptr,
              *o_emax = nullptr, *o_hot = nullptr;
};

// `with_profile`: also --profile (quantize); profile create has --from instead.
void add_dynamic_options(CLI::App* cmd, DynamicArgs& a, bool with_profile);

// The profile named by --profile (or `base`), with the options applied.
DynamicProfile resolve_profile(const DynamicArgs& a, const std::string& base);

// Fills the measurement/protection settings of DynamicQuantOptions.
void apply_run_options(const DynamicArgs& a, DynamicQuantOptions& o);

}  // namespace llmq::cli
