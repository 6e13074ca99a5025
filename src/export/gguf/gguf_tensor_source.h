#pragma once
// Reads the fp32 values of one GGUF tensor from a Hugging Face checkpoint:
// its source tensor(s) converted from bf16/f16/f32, experts stacked, q/k
// rows permuted for llama models, rope_freqs computed from the config.
#include <vector>

#include "export/gguf/gguf_tensor_layout.h"
#include "io/hf_checkpoint.h"
#include "model/config.h"

namespace llmq {

// Throws llmq::Error naming the file if a source tensor is missing or has
// another shape than the config implies.
void check_gguf_sources(const HfCheckpoint& ckpt, const GgufTensorSpec& spec);

// Fills `out` (resized to spec.n_elements()) in ggml order. `scratch` is
// reused between calls to avoid reallocating for the permutation.
void read_gguf_tensor(const HfCheckpoint& ckpt, const ModelConfig& cfg, const GgufTensorSpec& spec,
                      std::vector<float>& out, std::vector<float>& scratch);

}  // namespace llmq
