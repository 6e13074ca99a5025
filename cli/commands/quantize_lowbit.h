#pragma once
// `llm-quantize quantize MODEL fp8|fp4|int8|smoothquant [--scheme S] [--alpha A]
//  [--smoothquant] [--weight-scales channel|tensor] [--kv-cache-dtype fp8] -o DIR`
// The schemes vLLM serves from compressed-tensors checkpoints (FP8 W8A8/W8A16,
// NVFP4, MXFP4, int8 W8A16, SmoothQuant W8A8; see export/hf/lowbit_scheme.h).
// Like quantize_hf.h, the options join the shared `quantize` subcommand; the
// calibration options (--calibration, --samples, --ctx, --seed) are the ones
// add_hf_quantize_options() registers, passed in by the owner.
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "../cli_common.h"

namespace llmq::cli {

struct QuantizeLowbitArgs {
  std::string model;   // positional MODEL
  std::string method;  // fp8 | fp4 | int8 | smoothquant (positional FORMAT)
  std::string output;  // -o; empty: <model>-<scheme> beside the model
  std::string scheme;  // empty: the method's default
  float alpha = 0.5f;
  bool smoothquant = false, smooth_norms_only = false;
  std::string weight_scales;             // channel | tensor (fp8)
  std::string kv_cache_dtype = "auto";   // auto | fp8
  std::string scale_rule = "search";     // search | max-abs
  bool no_importance = false;
  // From the shared calibration options.
  std::string calibration;
  int64_t samples = 128, ctx = 512;
  uint64_t seed = 0;
  std::string resume_dir;
  bool restart = false;
};

void add_lowbit_quantize_options(CLI::App* quantize_cmd, QuantizeLowbitArgs& args);

// Runs the job, prints text or JSON per `common`. Throws llmq::Error on user errors.
void run_quantize_lowbit(const QuantizeLowbitArgs& args, const CommonOptions& common);

}  // namespace llmq::cli
