#pragma once
// Synthetic checkpoints for benchmarks and scale tests: a Hugging Face
// directory (config.json, safetensors shards + index, a tokenizer copied from
// another model) with random or zero weights of any llama / mistral / qwen2 /
// qwen3 / qwen3_moe / mixtral shape. Tensor names and shapes come from
// named_tensors() (model/weights.h), so the loader reads what this writes.
//
// Weights are generated one tensor at a time into one reused buffer and
// streamed to the shard files: peak memory is the largest tensor, whatever
// the model's size. Random values are deterministic in (seed, tensor index,
// block index), independent of the thread count. Zero init writes no data:
// each shard's data region is a hole (sparse file), so a 70B-shaped
// checkpoint appears at once and takes no disk space.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "model/config.h"
#include "model/weights.h"

namespace llmq {

enum class SynthInit { Random, Zeros };

// The shapes of `llm-quantize synth --preset`: llama-7b (Llama-2-7B), llama-1b
// (Llama-3.2-1B-like), llama3-8b, qwen3-8b, qwen3-30b-a3b, qwen3-moe-tiny,
// mixtral-tiny, mixtral-8x7b, llama-70b. A preset leaves n_kv_heads 0 when it
// equals n_heads and head_dim 0 when it is hidden / n_heads, so overriding
// --heads or --hidden keeps the derived values consistent.
const std::vector<std::string>& synth_preset_names();
// Throws llmq::Error listing the names when `name` is not one.
ModelConfig synth_preset(const std::string& name);

// Fills the derived fields (n_kv_heads 0 -> n_heads, head_dim 0 -> hidden /
// n_heads; MoE: moe_ffn 0 -> ffn, n_experts_used 0 -> min(2, n_experts)),
// checks the shape (one line naming the offending option) and returns the
// config as the loader parses it from synth_config_json().
ModelConfig resolve_synth_shape(ModelConfig shape);

// config.json (transformers spelling, as in shared/models/*/config.json) for a
// resolved shape; bos/eos as the tokenizer gives them (null when absent).
nlohmann::ordered_json synth_config_json(const ModelConfig& cfg, DType dtype, const nlohmann::json& bos_token_id,
                                         const nlohmann::json& eos_token_id);

// The values a synthetic tensor of `role` gets: normal-ish with this std
// (0 for biases), or the constant `value` when std is 0 (1 for norms).
struct SynthFill {
  float std = 0, value = 0;
};
SynthFill synth_fill_for(TensorRole role, const ModelConfig& cfg);

// Writes n values of `fill` as `dtype` (BF16, F16 or F32) to out, in
// parallel; random values depend only on (seed, position).
void fill_synthetic(DType dtype, void* out, int64_t n, const SynthFill& fill, uint64_t seed);
// The seed of tensor number `index` of a checkpoint made with `seed`.
uint64_t synth_tensor_seed(uint64_t seed, size_t index);

struct SynthOptions {
  ModelConfig shape;          // resolved by write_synthetic_model
  DType dtype = DType::BF16;  // BF16, F16 or F32
  uint64_t max_shard_bytes = 5'000'000'000ull;
  uint64_t seed = 0;
  SynthInit init = SynthInit::Random;
  std::string tokenizer_from;  // model directory with the tokenizer; empty: the bundled models/tiny-llama
};

struct SynthResult {
  std::string output_dir;
  ModelConfig cfg;
  int64_t n_params = 0, n_tensors = 0;
  std::vector<std::string> shards;  // file names, in order
  uint64_t bytes = 0;               // summed shard sizes (headers included)
  uint64_t disk_bytes = 0;          // blocks the shards take on disk (small for zero init)
  int64_t tokenizer_tokens = 0;     // real tokens of the copied tokenizer (<= cfg.vocab)
  std::string tokenizer_from;
  double seconds = 0;
};

// The bundled example model's directory (the default --tokenizer-from).
std::string bundled_tokenizer_dir();

// Writes the checkpoint into a temporary directory beside `out_dir` and
// renames it into place (util/atomic_output.h refuses an existing out_dir).
// Throws llmq::Error on a bad shape, a tokenizer with more tokens than the
// vocab, or too little free disk space for random weights.
SynthResult write_synthetic_model(const SynthOptions& opts, const std::string& out_dir);

}  // namespace llmq
