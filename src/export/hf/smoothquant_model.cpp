#include "export/hf/smoothquant_model.h"

#include <algorithm>

#include "quant/methods/smoothquant.h"
#include "util/error.h"

namespace llmq {

namespace {

void scale_cols(Tensor& w, const std::vector<float>& s) { scale_columns(w.data.data(), w.rows(), w.cols(), s.data()); }
void divide_rows_of(Tensor& w, const std::vector<float>& s) {
  if (!w.empty()) divide_rows(w.data.data(), int64_t(s.size()), w.numel() / int64_t(s.size()), s.data());
}

std::vector<float> column_max(std::initializer_list<const Tensor*> ws) {
  std::vector<float> m;
  for (const Tensor* w : ws) accumulate_column_max_abs(w->data.data(), w->rows(), w->cols(), m);
  return m;
}

const std::vector<float>* act_max(const ActivationRangeCollector& r, int layer, LinearSlot slot, int expert) {
  const ActivationRange* a = r.find({layer, slot, expert});
  return a && a->tokens > 0 ? &a->max_abs : nullptr;
}

void smooth_qkv(LayerWeights& L, int l, const ActivationRangeCollector& r, float alpha, SmoothingFactors& out) {
  const auto* a = act_max(r, l, LinearSlot::QKV, -1);
  if (!a) return;
  const std::vector<float> s = smoothquant_factors(*a, column_max({&L.wq, &L.wk, &L.wv}), alpha);
  divide_rows_of(L.attn_norm, s);
  for (Tensor* w : {&L.wq, &L.wk, &L.wv}) scale_cols(*w, s);
  out[{l, LinearSlot::QKV, -1}] = s;
}

void smooth_dense_mlp(LayerWeights& L, int l, const ActivationRangeCollector& r, const SmoothQuantOptions& opt,
                      SmoothingFactors& out) {
  if (const auto* a = act_max(r, l, LinearSlot::GateUp, -1)) {
    const std::vector<float> s = smoothquant_factors(*a, column_max({&L.gate, &L.up}), opt.alpha);
    divide_rows_of(L.ffn_norm, s);
    scale_cols(L.gate, s);
    scale_cols(L.up, s);
    out[{l, LinearSlot::GateUp, -1}] = s;
  }
  if (opt.norms_only) return;
  if (const auto* a = act_max(r, l, LinearSlot::Down, -1)) {
    const std::vector<float> s = smoothquant_factors(*a, column_max({&L.down}), opt.alpha);
    divide_rows_of(L.up, s);  // down reads silu(gate) * up: scaling up's rows scales that input
    scale_cols(L.down, s);
    out[{l, LinearSlot::Down, -1}] = s;
  }
}

void smooth_moe_mlp(LayerWeights& L, int l, const ActivationRangeCollector& r, const SmoothQuantOptions& opt,
                    SmoothingFactors& out) {
  // One norm feeds every expert: its factor comes from all routed tokens and all experts' weights.
  std::vector<float> a, wmax;
  for (size_t e = 0; e < L.experts.size(); ++e) {
    if (const auto* ae = act_max(r, l, LinearSlot::GateUp, int(e))) {
      if (a.empty()) a.assign(ae->size(), 0.0f);
      for (size_t j = 0; j < a.size(); ++j) a[j] = std::max(a[j], (*ae)[j]);
    }
    for (const Tensor* w : {&L.experts[e].gate, &L.experts[e].up})
      accumulate_column_max_abs(w->data.data(), w->rows(), w->cols(), wmax);
  }
  if (!a.empty()) {
    const std::vector<float> s = smoothquant_factors(a, wmax, opt.alpha);
    divide_rows_of(L.ffn_norm, s);
    scale_cols(L.router, s);  // the router stays in full precision but reads the smoothed norm
    for (size_t e = 0; e < L.experts.size(); ++e) {
      scale_cols(L.experts[e].gate, s);
      scale_cols(L.experts[e].up, s);
      out[{l, LinearSlot::GateUp, int(e)}] = s;
    }
    out[{l, LinearSlot::GateUp, -1}] = s;
  }
  if (opt.norms_only) return;
  for (size_t e = 0; e < L.experts.size(); ++e) {
    ExpertWeights& X = L.experts[e];
    if (const auto* ae = act_max(r, l, LinearSlot::Down, int(e))) {
      const std::vector<float> s = smoothquant_factors(*ae, column_max({&X.down}), opt.alpha);
      divide_rows_of(X.up, s);
      scale_cols(X.down, s);
      out[{l, LinearSlot::Down, int(e)}] = s;
    }
  }
}

// o_proj's input channel (h, d) is value channel (h / group, d): factors are tied across the group.
void smooth_o(LayerWeights& L, int l, const ModelConfig& c, const ActivationRangeCollector& r, float alpha,
              SmoothingFactors& out) {
  const auto* a = act_max(r, l, LinearSlot::O, -1);
  if (!a) return;
  const int64_t hd = c.head_dim, group = c.n_heads / c.n_kv_heads, kvd = c.kv_dim();
  const std::vector<float> wmax = column_max({&L.wo});
  std::vector<float> a_kv(size_t(kvd), 0.0f), w_kv(size_t(kvd), 0.0f);
  for (int64_t h = 0; h < c.n_heads; ++h)
    for (int64_t d = 0; d < hd; ++d) {
      const size_t q = size_t(h * hd + d), k = size_t((h / group) * hd + d);
      a_kv[k] = std::max(a_kv[k], (*a)[q]);
      w_kv[k] = std::max(w_kv[k], wmax[q]);
    }
  const std::vector<float> s_kv = smoothquant_factors(a_kv, w_kv, alpha);
  std::vector<float> s(size_t(c.q_dim()));
  for (int64_t h = 0; h < c.n_heads; ++h)
    for (int64_t d = 0; d < hd; ++d) s[size_t(h * hd + d)] = s_kv[size_t((h / group) * hd + d)];
  divide_rows_of(L.wv, s_kv);
  divide_rows_of(L.bv, s_kv);
  scale_cols(L.wo, s);
  out[{l, LinearSlot::O, -1}] = s;
}

}  // namespace

void smooth_layer(ModelWeights& w, int l, const ActivationRangeCollector& ranges, const SmoothQuantOptions& opt,
                  SmoothingFactors& out) {
  const ModelConfig& c = w.cfg;
  if (c.n_kv_heads <= 0 || c.n_heads % c.n_kv_heads != 0)
    fail("SmoothQuant: {} heads do not split into {} KV groups", c.n_heads, c.n_kv_heads);
  LayerWeights& L = w.layers[size_t(l)];
  smooth_qkv(L, l, ranges, opt.alpha, out);
  if (!opt.norms_only) smooth_o(L, l, c, ranges, opt.alpha, out);
  if (c.layer_is_moe(l)) smooth_moe_mlp(L, l, ranges, opt, out);
  else smooth_dense_mlp(L, l, ranges, opt, out);
}

SmoothingFactors smooth_model(ModelWeights& w, const ActivationRangeCollector& ranges, const SmoothQuantOptions& opt) {
  SmoothingFactors out;
  for (int l = 0; l < int(w.cfg.n_layers); ++l) smooth_layer(w, l, ranges, opt, out);
  return out;
}

}  // namespace llmq
