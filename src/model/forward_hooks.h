#pragma once
// Observation points in the forward pass. Calibration (importance matrix,
// Gram matrices, activation maxima, routing counts, super weights) and
// activation-quantization simulation attach here, so there is one forward
// loop for every consumer.
#include <cstdint>

namespace llmq {

// Linear layers that read the same input share a slot: q/k/v read the
// attention-normed hidden state, gate/up the MLP-normed one.
enum class LinearSlot { QKV, O, GateUp, Down };
const char* linear_slot_name(LinearSlot s);

struct ForwardHooks {
  virtual ~ForwardHooks() = default;
  // Before the matmul(s) of `slot` in `layer` (expert >= 0 inside an MoE
  // layer). X is [T, in] and may be modified, e.g. to fake-quantize activations.
  virtual void on_linear_input(int layer, LinearSlot slot, int expert, float* X, int64_t T, int64_t in) {}
  // After a linear: Y is [T, out] (for QKV and GateUp this is called per
  // projection with slot and `which` = 0,1,2 for q,k,v or 0,1 for gate,up).
  virtual void on_linear_output(int layer, LinearSlot slot, int which, int expert, const float* Y, int64_t T,
                                int64_t out) {}
  // MoE routing decisions: for each of T tokens, k expert ids and their weights.
  virtual void on_moe_routing(int layer, const int32_t* experts, const float* weights, int64_t T, int64_t k) {}
  // Keys (after RoPE and any q/k norm) and values of T new positions as they
  // enter the KV cache, each [T, kv_dim].
  virtual void on_kv_cache(int layer, const float* K, const float* V, int64_t T, int64_t kv_dim) {}
  // Hidden state leaving `layer` ([T, hidden]).
  virtual void on_layer_output(int layer, const float* X, int64_t T, int64_t hidden) {}
  // Final-normed hidden state before the output head's matmul ([T, hidden]); may be modified.
  virtual void on_head_input(float* X, int64_t T, int64_t hidden) {}
  // True when the rest of `layer` may be skipped once the inputs of `slot`
  // have gone by: for passes that only observe a layer's inputs and discard
  // its output (GPTQ's per-stage statistics). The layer's output is then garbage.
  virtual bool done_after(int layer, LinearSlot slot) const { return false; }
};

}  // namespace llmq
