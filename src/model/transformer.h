#pragma once
// fp32 forward pass of llama / mistral / qwen2 / qwen3 / qwen3_moe / mixtral
// decoders: batched over the tokens of a sequence, with a KV cache so that
// generation continues from a processed prompt.
#include <cstdint>
#include <memory>
#include <vector>

#include "model/forward_hooks.h"
#include "model/rope.h"
#include "model/weights.h"

namespace llmq {

struct KvCache {
  int64_t capacity = 0;  // positions
  int64_t n_past = 0;    // positions filled
  std::vector<std::vector<float>> k, v;  // per layer: [capacity, kv_dim]
  void clear() { n_past = 0; }
};

class Transformer {
 public:
  explicit Transformer(std::shared_ptr<const ModelWeights> weights);

  const ModelConfig& config() const { return w_->cfg; }
  const ModelWeights& weights() const { return *w_; }
  KvCache make_cache(int64_t capacity) const;

  // Runs T tokens at positions cache.n_past ..; writes the logits of rows
  // [logits_from, T) to `logits` ([T - logits_from, vocab]).
  void forward(const int32_t* tokens, int64_t T, KvCache& cache, std::vector<float>& logits, int64_t logits_from = 0,
               ForwardHooks* hooks = nullptr) const;

  // The pieces of forward(), for methods that walk the model layer by layer
  // (GPTQ's sequential mode feeds each block the quantized blocks' output).
  void embed(const int32_t* tokens, int64_t T, std::vector<float>& X) const;
  void run_layer(int layer, float* X, int64_t T, KvCache& cache, ForwardHooks* hooks = nullptr) const;
  void head(const float* X, int64_t T, int64_t logits_from, std::vector<float>& logits,
            ForwardHooks* hooks = nullptr) const;

 private:
  void attention(int layer, const float* h, float* out, int64_t T, KvCache& cache, ForwardHooks* hooks) const;
  void dense_mlp(int layer, const float* h, float* out, int64_t T, ForwardHooks* hooks) const;
  void moe_mlp(int layer, const float* h, float* out, int64_t T, ForwardHooks* hooks) const;

  std::shared_ptr<const ModelWeights> w_;
  Rope rope_;
};

}  // namespace llmq
