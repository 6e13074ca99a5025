#pragma once
// The whole `quantize MODEL dwq` flow as a library call (mlx-lm's
// `mlx_lm.dwq`): quantize the model with RTN, AWQ or GPTQ into MLX's affine
// layout; compute the original model's top-k logits on the training text
// (cached); train the quantized linears' scales and biases to match them;
// write the result as an MLX checkpoint. Every stage resumes: the initial
// quantization and the training state live in the checkpoint folder until
// the output is committed.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "dwq/trainer.h"
#include "export/hf/quantized_model.h"
#include "export/hf/safetensors_shards.h"

namespace llmq::dwq {

struct DwqJob {
  std::string model_dir;
  std::string output_dir;      // empty: <model_dir>-dwq-w<bits>g<group>-mlx beside the model
  std::string data_path;       // training text; empty: default_calibration_path(model_dir)
  std::string checkpoint_dir;  // empty: <output_dir>.checkpoint
  std::string targets_dir;     // teacher cache; empty: $XDG_CACHE_HOME (or ~/.cache)/llm-quantize/dwq-targets
  IntQuantMethod init = IntQuantMethod::Rtn;
  int bits = 4;
  int64_t group_size = 64;
  int64_t num_samples = 256;   // training sequences
  int64_t valid_samples = 16;  // held-out sequences for the validation loss
  int64_t max_seq_length = 512;
  int64_t top_k = 64;          // teacher logits kept per position
  uint64_t seed = 0;           // which windows of the text, and their order
  TrainOptions train;
  bool restart = false;        // ignore the checkpoint folder's state
  uint64_t max_shard_bytes = kDefaultMaxShardBytes;
};

struct DwqOutcome {
  std::string output_dir;
  uint64_t bytes = 0;
  int64_t quantized_linears = 0, trainable_values = 0;
  int64_t train_sequences = 0, valid_sequences = 0, seq_len = 0;
  bool init_reused = false, targets_reused = false;
  std::string targets_file;
  double init_seconds = 0, targets_seconds = 0;
  TrainReport train;
  double peak_anonymous_mib = 0, peak_resident_mib = 0;  // of the process, after training (util/peak_memory.h)
  std::vector<std::string> warnings;
  nlohmann::json to_json() const;
};

std::string default_dwq_output(const DwqJob& job);
// Throws llmq::Error (bad options, unreadable model or text, text shorter
// than one sequence, a diverging learning rate) and then writes no output.
DwqOutcome run_dwq(const DwqJob& job);

}  // namespace llmq::dwq
