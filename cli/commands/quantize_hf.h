#pragma once
// `llm-quantize quantize MODEL gptq|awq|rtn --bits 4 --group-size 128
//  [--format-out gptq|awq|compressed-tensors|mlx] -o DIR`
// The `quantize` subcommand is shared with GGUF export (quantize.cpp): it
// owns MODEL, the FORMAT positional, -o and the common options, calls
// add_hf_quantize_options() once when building the subcommand, and hands
// FORMAT in {gptq, awq, rtn} to run_quantize_hf().
#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "../cli_common.h"
#include "mixed/dynamic_quantize.h"

namespace llmq::cli {

struct QuantizeHfArgs {
  std::string model;       // set by the owner of the subcommand (positional MODEL)
  std::string method;      // gptq | awq | rtn (positional FORMAT)
  std::string output;      // -o; empty: <model>-<method>-w<bits>g<group>-<format> beside the model
  std::string format_out;  // gptq | awq | compressed-tensors | mlx; empty: gptq for gptq/rtn, awq for awq
  int bits = 4;
  int64_t group_size = 128;
  bool asym = false;
  std::string calibration;
  int64_t samples = 128, ctx = 512;
  uint64_t seed = 0;
  double damp_percent = 0.01;
  int64_t block_size = 128;
  bool desc_act = false, static_groups = false, no_true_sequential = false, no_sequential = false;
  int awq_grid = 20;
  bool no_clip = false, duo_scaling = false, no_gptq_clip = false;
  int64_t min_expert_tokens = 32;
  std::vector<std::string> ignore;  // regexes of linear weight names kept in floating point
  std::string max_shard_size = "5GB";
  std::string max_memory;  // --max-memory, empty: no limit
  std::string resume_dir;  // --resume; empty: <output>.checkpoint
  bool restart = false;
  // MoE: per-expert bits by routing counts (the --dynamic-experts options of
  // dynamic_options.h and --imatrix, shared with GGUF; set by the owner).
  bool dynamic_experts = false;
  std::string imatrix;
  double expert_min_bits = 2, expert_max_bits = 8, hot_fraction = 0.1;
  // --protect-super-weights [--super-weights FILE] (dynamic_options.h, shared
  // with GGUF): linears holding listed super weights stay unquantized.
  bool protect_super_weights = false;
  std::string super_weights;  // empty: <imatrix>.superweights.json
  // --target-bpw X | --target-size S [--min-bits/--max-bits] (dynamic_options.h,
  // shared with GGUF): per-linear widths by the knapsack (hf_bit_allocation.h).
  double target_bpw = 0;       // 0: off
  std::string target_size;     // "": off
  double min_bits = 0, max_bits = 1e9;
  // --sensitivity fast|accurate|hybrid ("": hybrid when calibration text is
  // found, else fast) and its measurement options (cache, data, windows:
  // apply_run_options of dynamic_options.h, shared with GGUF).
  std::string sensitivity;
  DynamicQuantOptions measure;
};

// The method-specific options (no positionals, no -o, no --format/--threads/--quiet).
void add_hf_quantize_options(CLI::App* quantize_cmd, QuantizeHfArgs& args);

// Runs the job, prints text or JSON per `common`. Throws llmq::Error on user errors.
void run_quantize_hf(const QuantizeHfArgs& args, const CommonOptions& common);

}  // namespace llmq::cli
