#pragma once
// The tensors of a model's GGUF file as llama.cpp's converter lays them out:
// GGUF names, ggml shapes, and which Hugging Face tensors fill each one.
// Export walks this list to write, the GGUF model loader to read back, and
// the type plan to pick a ggml type per tensor, so all three agree.
#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/weights.h"

namespace llmq {

struct GgufTensorSpec {
  std::string name;                  // GGUF name, e.g. "blk.3.attn_q.weight"
  std::vector<int64_t> ne;           // ggml shape: ne[0] is the row length; experts last
  TensorRole role = TensorRole::Norm;
  int layer = -1;                    // -1 outside the blocks
  // Hugging Face tensors, in order: one, or one per expert for a stacked
  // [n_expert, rows, cols] tensor (ne = {cols, rows, n_expert}); empty for a
  // tensor computed from the config (rope_freqs).
  std::vector<std::string> sources;
  // > 0: rows are reordered by permute_rope_rows with this many heads.
  int64_t rope_permute_heads = 0;
  bool is_rope_freqs = false;

  int64_t n_elements() const;
  int64_t row_length() const { return ne[0]; }
  int64_t n_rows() const;                    // all rows, every expert included
  int64_t n_experts() const { return ne.size() == 3 ? ne[2] : 1; }
  bool is_stacked() const { return ne.size() == 3; }
};

// In file order: rope_freqs (llama3 scaling only), token embedding, the
// blocks, output norm, output (absent when tied). Expert tensors of a layer
// are stacked into ffn_{gate,up,down}_exps at the place of the first expert.
std::vector<GgufTensorSpec> gguf_tensor_layout(const ModelConfig& cfg);

// Whether llama.cpp's converter permutes q/k rows for this model (the
// "llama" architecture: llama, mistral, mixtral).
bool gguf_uses_rope_permutation(const ModelConfig& cfg);

}  // namespace llmq
