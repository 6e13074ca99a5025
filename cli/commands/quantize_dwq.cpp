#include "quantize_dwq.h"

#include <fmt/format.h>

#include "dwq/dwq_pipeline.h"
#include "util/byte_size.h"
#include "util/error.h"

namespace llmq::cli {

void add_dwq_quantize_options(CLI::App* cmd, QuantizeDwqArgs& a) {
  const std::string g = "DWQ (distilled weight quantization, MLX output)";
  cmd->add_option("--init", a.init, "DWQ: the quantization training starts from")
      ->check(CLI::IsMember({"rtn", "awq", "gptq"}))->capture_default_str()->group(g);
  cmd->add_option("--iters", a.iters, "DWQ: optimizer steps (0: one pass over --num-samples)")
      ->check(CLI::NonNegativeNumber)->capture_default_str()->group(g);
  cmd->add_option("--batch-size", a.batch_size, "DWQ: sequences per step")->check(CLI::PositiveNumber)->capture_default_str()->group(g);
  cmd->add_option("--max-seq-length", a.max_seq_length, "DWQ: tokens per training sequence")
      ->check(CLI::Range(int64_t(2), int64_t(1) << 20))->capture_default_str()->group(g);
  cmd->add_option("--learning-rate", a.learning_rate,
                  "DWQ: Adam's learning rate, in units of each group's quantization step (1e-3: a bias moves 0.1% of "
                  "a step, a scale 0.1% of itself per update)")
      ->check(CLI::PositiveNumber)->capture_default_str()->group(g);
  cmd->add_flag("--constant-lr", a.constant_lr, "DWQ: keep the learning rate constant (default: cosine decay to a tenth)")
      ->group(g);
  cmd->add_option("--num-samples", a.num_samples, "DWQ: training sequences")->check(CLI::PositiveNumber)->capture_default_str()->group(g);
  cmd->add_option("--valid-samples", a.valid_samples, "DWQ: held-out sequences for the validation loss")
      ->check(CLI::PositiveNumber)->capture_default_str()->group(g);
  cmd->add_option("--steps-per-eval", a.steps_per_eval, "DWQ: steps between validation losses (and saved states)")
      ->check(CLI::PositiveNumber)->capture_default_str()->group(g);
  cmd->add_option("--patience", a.patience, "DWQ: evaluations without a better validation loss before stopping")
      ->check(CLI::PositiveNumber)->capture_default_str()->group(g);
  cmd->add_option("--temperature", a.temperature, "DWQ: temperature of the distillation loss")->check(CLI::PositiveNumber)
      ->capture_default_str()->group(g);
  cmd->add_option("--top-k", a.top_k, "DWQ: teacher logits kept per position")->check(CLI::PositiveNumber)
      ->capture_default_str()->group(g);
  cmd->add_option("--targets-dir", a.targets_dir,
                  "DWQ: cache of the teacher's logits (default: $XDG_CACHE_HOME or ~/.cache/llm-quantize/dwq-targets)")
      ->group(g);
}

void run_quantize_dwq(const QuantizeDwqArgs& a, const CommonOptions& common) {
  if (!a.format_out.empty() && a.format_out != "mlx")
    fail("dwq writes MLX checkpoints (its learned biases have no place in the {} layout); drop --format-out", a.format_out);
  dwq::DwqJob job;
  job.model_dir = a.model;
  job.output_dir = a.output;
  job.data_path = a.data;
  job.checkpoint_dir = a.resume_dir;
  job.targets_dir = a.targets_dir;
  job.init = parse_int_quant_method(a.init);
  job.bits = a.bits;
  job.group_size = a.group_size;
  job.num_samples = a.num_samples;
  job.valid_samples = a.valid_samples;
  job.max_seq_length = a.max_seq_length;
  job.top_k = a.top_k;
  job.seed = a.seed;
  job.restart = a.restart;
  job.max_shard_bytes = parse_byte_size(a.max_shard_size, "--max-shard-size");
  job.train.iters = a.iters;
  job.train.batch_size = a.batch_size;
  job.train.learning_rate = a.learning_rate;
  job.train.cosine = !a.constant_lr;
  job.train.temperature = a.temperature;
  job.train.steps_per_eval = a.steps_per_eval;
  job.train.patience = a.patience;
  job.train.seed = a.seed;
  job.train.progress = !common.quiet && !common.json();
  const dwq::DwqOutcome r = dwq::run_dwq(job);
  if (common.json()) {
    print_json(r.to_json());
    return;
  }
  for (const std::string& w : r.warnings) fmt::print("warning: {}\n", w);
  fmt::print("initial quantization ({}, {}-bit g{}): {}\n", a.init, a.bits, a.group_size,
             r.init_reused ? "reused from the checkpoint" : fmt::format("{:.1f} s", r.init_seconds));
  fmt::print("teacher logits (top {}): {} ({})\n", a.top_k, r.targets_reused ? "reused" : fmt::format("{:.1f} s", r.targets_seconds),
             r.targets_file);
  fmt::print("trained {} scales and biases on {} sequences of {} tokens: {} of {} steps{}, {:.1f} s, {:.0f} tokens/s\n",
             r.trainable_values, r.train_sequences, r.seq_len, r.train.steps_done, r.train.steps_planned,
             r.train.stopped_early ? " (stopped early)" : "", r.train.seconds, r.train.tokens_per_second);
  fmt::print("validation KL (mean per token, {} sequences): {:.5f} -> {:.5f} (best at step {})\n", r.valid_sequences,
             r.train.initial_valid, r.train.best_valid, r.train.best_step);
  fmt::print("wrote {} (mlx, {} quantized linears, {:.2f} MiB)\n", r.output_dir, r.quantized_linears,
             double(r.bytes) / 1048576.0);
}

}  // namespace llmq::cli
