#pragma once
// `llm-quantize quantize MODEL dwq [--init rtn|awq|gptq] --bits 4 --group-size 64
//  [--iters N --batch-size B --max-seq-length L --learning-rate LR --num-samples N --data FILE] -o DIR`
// Distilled weight quantization written as an MLX checkpoint (dwq/dwq_pipeline.h).
// Like quantize_hf.h, the options join the shared `quantize` subcommand.
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "../cli_common.h"

namespace llmq::cli {

struct QuantizeDwqArgs {
  std::string init = "rtn";
  int64_t iters = 0, batch_size = 4, max_seq_length = 512, num_samples = 256, valid_samples = 16;
  double learning_rate = 1e-3;
  bool constant_lr = false;
  int64_t steps_per_eval = 10;
  int patience = 5;
  float temperature = 1.0f;
  int64_t top_k = 64;
  std::string targets_dir;
  // Shared with the GPTQ/AWQ options (set by the owner of the subcommand).
  std::string model, output, data, resume_dir, max_shard_size = "5GB", format_out;
  int bits = 4;
  int64_t group_size = 64;
  uint64_t seed = 0;
  bool restart = false;
};

void add_dwq_quantize_options(CLI::App* quantize_cmd, QuantizeDwqArgs& args);
void run_quantize_dwq(const QuantizeDwqArgs& args, const CommonOptions& common);

}  // namespace llmq::cli
