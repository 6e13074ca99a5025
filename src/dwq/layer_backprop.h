#pragma once
// One decoder layer's forward pass over a sequence, recording what the
// backward pass needs (the tape), and that backward pass: the gradient with
// respect to the layer's input, and the gradients of every trainable linear's
// scales and biases (summed into its Trainable). The model's other
// parameters (norms, biases, routers) stay fixed; an MoE layer's expert
// choices are taken as given, its routing weights are differentiated.
#include <cstdint>
#include <vector>

#include "dwq/student.h"
#include "model/rope.h"

namespace llmq::dwq {

struct ExpertTape {
  std::vector<int64_t> rows;   // tokens routed to the expert
  std::vector<int64_t> slots;  // their position in the token's top-k
  std::vector<float> xin, g, u, a, y;
};

struct LayerTape {
  int64_t T = 0;
  std::vector<float> x_in, h1, q_lin, k_lin, q, k, v, attn, x_mid, h2;
  std::vector<float> g, u, a;  // dense MLP
  std::vector<float> probs;    // MoE: router softmax [T, E]
  std::vector<int32_t> sel;    // [T, k]
  std::vector<float> selw;     // [T, k]
  std::vector<ExpertTape> experts;
  size_t bytes() const;
};

struct LayerContext {
  const ModelConfig& cfg;
  const LayerWeights& fixed;  // norms and biases
  LayerLinears& lin;
  const Rope& rope;
};

// X [T, hidden] (positions 0 .. T - 1) is replaced by the layer's output.
void layer_forward(const LayerContext& ctx, int layer, float* X, int64_t T, LayerTape& tape);
// dX: the gradient with respect to the layer's output on entry, with respect
// to its input on return.
void layer_backward(const LayerContext& ctx, int layer, const LayerTape& tape, float* dX);

// y = x / rms(x) * w over T rows of n, backwards: dx from dy (dx may not alias).
void rms_norm_backward(const float* x, const float* w, const float* dy, float* dx, int64_t T, int64_t n, float eps);
// Causal grouped-query attention backwards: dQ, dK, dV from dO for
// O = softmax(Q K^T / sqrt(d)) V at positions 0 .. T - 1. dK and dV are overwritten.
void attention_backward(const float* Q, const float* K, const float* V, const float* dO, float* dQ, float* dK, float* dV,
                        int64_t T, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim);

}  // namespace llmq::dwq
