#include "model/transformer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "model/kernels/attention.h"
#include "model/ops.h"
#include "util/error.h"

namespace llmq {

const char* linear_slot_name(LinearSlot s) {
  switch (s) {
    case LinearSlot::QKV: return "qkv";
    case LinearSlot::O: return "o";
    case LinearSlot::GateUp: return "gate_up";
    case LinearSlot::Down: return "down";
  }
  return "?";
}

Transformer::Transformer(std::shared_ptr<const ModelWeights> weights) : w_(std::move(weights)), rope_(w_->cfg) {}

KvCache Transformer::make_cache(int64_t capacity) const {
  KvCache c;
  c.capacity = capacity;
  const ModelConfig& cfg = w_->cfg;
  c.k.assign(size_t(cfg.n_layers), std::vector<float>(size_t(capacity * cfg.kv_dim())));
  c.v.assign(size_t(cfg.n_layers), std::vector<float>(size_t(capacity * cfg.kv_dim())));
  return c;
}

void Transformer::embed(const int32_t* tokens, int64_t T, std::vector<float>& X) const {
  const ModelConfig& c = w_->cfg;
  X.resize(size_t(T * c.hidden));
  for (int64_t t = 0; t < T; ++t) {
    if (tokens[t] < 0 || tokens[t] >= c.vocab) fail("token id {} is outside the vocabulary (0..{})", tokens[t], c.vocab - 1);
    w_->embed.read_rows(tokens[t], 1, X.data() + t * c.hidden);
  }
}

void Transformer::attention(int l, const float* h, float* out, int64_t T, KvCache& cache, ForwardHooks* hooks) const {
  const ModelConfig& c = w_->cfg;
  const LayerWeights& L = w_->layers[size_t(l)];
  const int64_t qd = c.q_dim(), kvd = c.kv_dim(), hd = c.head_dim;
  const int64_t pos0 = cache.n_past;
  if (pos0 + T > cache.capacity) fail("sequence of {} tokens exceeds the KV cache of {}", pos0 + T, cache.capacity);

  std::vector<float> q(size_t(T * qd));
  float* kc = cache.k[size_t(l)].data() + pos0 * kvd;  // new keys go straight into the cache
  float* vc = cache.v[size_t(l)].data() + pos0 * kvd;
  ops::linear(h, L.wq, L.bq, q.data(), T);
  ops::linear(h, L.wk, L.bk, kc, T);
  ops::linear(h, L.wv, L.bv, vc, T);
  if (hooks) {
    hooks->on_linear_output(l, LinearSlot::QKV, 0, -1, q.data(), T, qd);
    hooks->on_linear_output(l, LinearSlot::QKV, 1, -1, kc, T, kvd);
    hooks->on_linear_output(l, LinearSlot::QKV, 2, -1, vc, T, kvd);
  }
  if (c.qk_norm) {  // qwen3: RMSNorm over each head before RoPE
    const float eps = float(c.rms_eps);
    ops::rms_norm(q.data(), L.q_norm.data.data(), q.data(), T * c.n_heads, hd, eps);
    ops::rms_norm(kc, L.k_norm.data.data(), kc, T * c.n_kv_heads, hd, eps);
  }
  rope_.apply(q.data(), T, c.n_heads, pos0);
  rope_.apply(kc, T, c.n_kv_heads, pos0);
  if (hooks) hooks->on_kv_cache(l, kc, vc, T, kvd);
  if (w_->runtime.kv.fp8) {  // an FP8 KV cache stores e4m3(x / scale)
    fake_quantize_fp8_static(kc, T * kvd, w_->runtime.kv.k_scale.at(size_t(l)));
    fake_quantize_fp8_static(vc, T * kvd, w_->runtime.kv.v_scale.at(size_t(l)));
  }

  std::vector<float> attn(size_t(T * qd));
  kernels::causal_attention(q.data(), cache.k[size_t(l)].data(), cache.v[size_t(l)].data(), attn.data(), T, pos0, c.n_heads,
                            c.n_kv_heads, hd);
  if (hooks) hooks->on_linear_input(l, LinearSlot::O, -1, attn.data(), T, qd);
  if (hooks && hooks->done_after(l, LinearSlot::O)) return;
  fake_quantize_linear_input(w_->runtime.inputs, l, LinearSlot::O, attn.data(), T, qd);
  ops::linear(attn.data(), L.wo, L.bo, out, T);
  if (hooks) hooks->on_linear_output(l, LinearSlot::O, 0, -1, out, T, c.hidden);
}

// One SwiGLU MLP over the rows of h: out = down(silu(gate(h)) * up(h)).
static void swiglu_mlp(const Tensor& gate, const Tensor& up, const Tensor& down, const float* h, float* out, int64_t T,
                       int layer, int expert, ForwardHooks* hooks, const LinearInputQuant& act_quant) {
  const int64_t hidden = gate.cols(), ffn = gate.rows();
  static const Tensor kNoBias;
  std::vector<float> g(size_t(T * ffn)), u(size_t(T * ffn));
  ops::linear(h, gate, kNoBias, g.data(), T);
  ops::linear(h, up, kNoBias, u.data(), T);
  if (hooks) {
    hooks->on_linear_output(layer, LinearSlot::GateUp, 0, expert, g.data(), T, ffn);
    hooks->on_linear_output(layer, LinearSlot::GateUp, 1, expert, u.data(), T, ffn);
  }
  ops::swiglu(g.data(), u.data(), g.data(), T * ffn);
  if (hooks) hooks->on_linear_input(layer, LinearSlot::Down, expert, g.data(), T, ffn);
  if (hooks && hooks->done_after(layer, LinearSlot::Down)) return;
  fake_quantize_linear_input(act_quant, layer, LinearSlot::Down, g.data(), T, ffn);
  ops::linear(g.data(), down, kNoBias, out, T);
  if (hooks) hooks->on_linear_output(layer, LinearSlot::Down, 0, expert, out, T, hidden);
}

void Transformer::dense_mlp(int l, const float* h, float* out, int64_t T, ForwardHooks* hooks) const {
  const LayerWeights& L = w_->layers[size_t(l)];
  swiglu_mlp(L.gate, L.up, L.down, h, out, T, l, -1, hooks, w_->runtime.inputs);
}

void Transformer::moe_mlp(int l, const float* h, float* out, int64_t T, ForwardHooks* hooks) const {
  const ModelConfig& c = w_->cfg;
  const LayerWeights& L = w_->layers[size_t(l)];
  const int64_t E = c.n_experts, k = c.n_experts_used, hidden = c.hidden;
  std::vector<float> probs(size_t(T * E));
  ops::linear(h, L.router, Tensor(), probs.data(), T);
  std::vector<int32_t> sel(size_t(T * k));
  std::vector<float> selw(size_t(T * k));
  for (int64_t t = 0; t < T; ++t) {
    float* p = probs.data() + t * E;
    ops::softmax(p, E);  // softmax over all experts, then top-k
    std::vector<int32_t> idx(static_cast<size_t>(E));
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) {
      return p[a] > p[b] || (p[a] == p[b] && a < b);
    });
    float sum = 0.0f;
    for (int64_t j = 0; j < k; ++j) sum += p[idx[size_t(j)]];
    for (int64_t j = 0; j < k; ++j) {
      sel[size_t(t * k + j)] = idx[size_t(j)];
      selw[size_t(t * k + j)] = c.norm_topk_prob ? p[idx[size_t(j)]] / sum : p[idx[size_t(j)]];
    }
  }
  if (hooks) hooks->on_moe_routing(l, sel.data(), selw.data(), T, k);

  std::fill(out, out + T * hidden, 0.0f);
  for (int32_t e = 0; e < E; ++e) {
    // Gather the tokens routed to expert e, run its MLP on them as one batch, scatter back weighted.
    std::vector<int64_t> rows;
    std::vector<float> rw;
    for (int64_t t = 0; t < T; ++t)
      for (int64_t j = 0; j < k; ++j)
        if (sel[size_t(t * k + j)] == e) {
          rows.push_back(t);
          rw.push_back(selw[size_t(t * k + j)]);
        }
    if (rows.empty()) continue;
    const int64_t n = int64_t(rows.size());
    std::vector<float> xin(size_t(n * hidden)), y(size_t(n * hidden));
    for (int64_t i = 0; i < n; ++i) std::memcpy(xin.data() + i * hidden, h + rows[size_t(i)] * hidden, size_t(hidden) * 4);
    if (hooks) hooks->on_linear_input(l, LinearSlot::GateUp, e, xin.data(), n, hidden);
    if (hooks && hooks->done_after(l, LinearSlot::GateUp)) continue;
    // The router above read the unquantized input: runtimes leave the router in full precision.
    fake_quantize_linear_input(w_->runtime.inputs, l, LinearSlot::GateUp, xin.data(), n, hidden);
    const ExpertWeights& X = L.experts[size_t(e)];
    swiglu_mlp(X.gate, X.up, X.down, xin.data(), y.data(), n, l, e, hooks, w_->runtime.inputs);
    for (int64_t i = 0; i < n; ++i) {
      float* o = out + rows[size_t(i)] * hidden;
      const float* yi = y.data() + i * hidden;
      for (int64_t d = 0; d < hidden; ++d) o[d] += rw[size_t(i)] * yi[d];
    }
  }
}

void Transformer::run_layer(int l, float* X, int64_t T, KvCache& cache, ForwardHooks* hooks) const {
  const ModelConfig& c = w_->cfg;
  const LayerWeights& L = w_->layers[size_t(l)];
  const int64_t H = c.hidden;
  const float eps = float(c.rms_eps);
  std::vector<float> h(size_t(T * H)), o(size_t(T * H));

  auto done = [&](LinearSlot s) { return hooks && hooks->done_after(l, s); };
  ops::rms_norm(X, L.attn_norm.data.data(), h.data(), T, H, eps);
  if (hooks) hooks->on_linear_input(l, LinearSlot::QKV, -1, h.data(), T, H);
  if (done(LinearSlot::QKV)) return;
  fake_quantize_linear_input(w_->runtime.inputs, l, LinearSlot::QKV, h.data(), T, H);
  attention(l, h.data(), o.data(), T, cache, hooks);
  if (done(LinearSlot::O)) return;
  for (int64_t i = 0; i < T * H; ++i) X[i] += o[size_t(i)];

  ops::rms_norm(X, L.ffn_norm.data.data(), h.data(), T, H, eps);
  if (c.layer_is_moe(l)) {
    moe_mlp(l, h.data(), o.data(), T, hooks);
  } else {
    if (hooks) hooks->on_linear_input(l, LinearSlot::GateUp, -1, h.data(), T, H);
    if (done(LinearSlot::GateUp)) return;
    fake_quantize_linear_input(w_->runtime.inputs, l, LinearSlot::GateUp, h.data(), T, H);
    dense_mlp(l, h.data(), o.data(), T, hooks);
  }
  if (done(LinearSlot::GateUp) || done(LinearSlot::Down)) return;
  for (int64_t i = 0; i < T * H; ++i) X[i] += o[size_t(i)];
  if (hooks) hooks->on_layer_output(l, X, T, H);
}

void Transformer::head(const float* X, int64_t T, int64_t from, std::vector<float>& logits,
                       ForwardHooks* hooks) const {
  const ModelConfig& c = w_->cfg;
  const int64_t n = T - from;
  std::vector<float> h(size_t(n * c.hidden));
  ops::rms_norm(X + from * c.hidden, w_->final_norm.data.data(), h.data(), n, c.hidden, float(c.rms_eps));
  if (hooks) hooks->on_head_input(h.data(), n, c.hidden);
  logits.resize(size_t(n * c.vocab));
  ops::linear(h.data(), w_->output(), Tensor(), logits.data(), n);
}

void Transformer::forward(const int32_t* tokens, int64_t T, KvCache& cache, std::vector<float>& logits,
                          int64_t logits_from, ForwardHooks* hooks) const {
  if (T <= 0) fail("forward pass needs at least one token");
  std::vector<float> X;
  embed(tokens, T, X);
  for (int l = 0; l < w_->cfg.n_layers; ++l) run_layer(l, X.data(), T, cache, hooks);
  cache.n_past += T;
  head(X.data(), T, std::clamp<int64_t>(logits_from, 0, T), logits, hooks);
}

}  // namespace llmq
