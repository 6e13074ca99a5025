#pragma once
// The weights of a decoder-only transformer in fp32, with Hugging Face names.
// Every consumer (forward pass, quantizers, exporters) walks the same list of
// named tensors from named_tensors(), so names and shapes are defined once.
#include <functional>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "model/config.h"
#include "model/runtime_quant.h"
#include "model/tensor.h"

namespace llmq {

class HfCheckpoint;

struct ExpertWeights {
  Tensor gate, up, down;
};

struct LayerWeights {
  Tensor attn_norm, ffn_norm;
  Tensor wq, wk, wv, wo;
  Tensor bq, bk, bv, bo;      // optional biases
  Tensor q_norm, k_norm;      // qwen3
  Tensor gate, up, down;      // dense MLP
  Tensor router;              // MoE: [n_experts, hidden]
  std::vector<ExpertWeights> experts;
};

struct ModelWeights {
  ModelConfig cfg;
  Tensor embed;       // [vocab, hidden]
  Tensor final_norm;  // [hidden]
  Tensor lm_head;     // [vocab, hidden]; empty when tied to embed
  std::vector<LayerWeights> layers;
  // Activation / KV-cache quantization the checkpoint's runtime applies; the
  // forward pass simulates it (empty for plain and weight-only checkpoints).
  RuntimeQuant runtime;
  // Floating-point type of the source checkpoint's tensors (the one holding
  // the most bytes): writers keep tensors they do not quantize in it.
  DType source_dtype = DType::F32;

  const Tensor& output() const { return lm_head.empty() ? embed : lm_head; }
};

// What a tensor is, so quantizers can pick per-role types without parsing names.
enum class TensorRole {
  TokenEmbedding, Output, Norm, Bias, AttnQ, AttnK, AttnV, AttnO, FfnGate, FfnUp, FfnDown, Router,
};

struct NamedTensor {
  std::string name;                 // Hugging Face name
  Tensor* tensor;                   // storage in the ModelWeights
  std::vector<int64_t> shape;       // shape implied by config.json
  TensorRole role;
  int layer = -1;                   // -1 for embedding / output / final norm
  int expert = -1;                  // MoE expert index, -1 otherwise
};

// Every tensor of the model described by w.cfg, in checkpoint order
// (embedding, layers, final norm, output). Tied output is not listed.
std::vector<NamedTensor> named_tensors(ModelWeights& w);

// Loads and converts to fp32 every tensor; checks each is present and has the
// shape the config implies. Errors name the file and tensor.
ModelWeights load_hf_weights(const HfCheckpoint& ckpt, const ModelConfig& cfg);
// The same checks, but 2-D weights stay lazy: rows read from the mmapped
// shards (kept open by the returned tensors) when the forward pass needs them.
// Vectors (norms, biases) are converted at once: they are small.
ModelWeights load_hf_weights_lazy(std::shared_ptr<const HfCheckpoint> ckpt, const ModelConfig& cfg);
// Lazy -> dense for every tensor (for consumers that edit weights in place).
void materialize_all(ModelWeights& w);
// Bytes of the weights held in fp32 right now (lazy tensors count 0).
size_t resident_weight_bytes(const ModelWeights& w);

bool is_linear_weight(TensorRole r);

}  // namespace llmq
