// Model-level AWQ, in the way AutoAWQ applies it to llama-style blocks:
//   q/k/v      scaled against the attention RMSNorm,
//   o          against v (per kv channel, shared by the query heads of a group),
//   gate/up    against the MLP RMSNorm (MoE: every expert, the router kept exact),
//   down       against up (per expert).
// Each scale is chosen on a grid of alpha: q/k/v and gate/up by the error of
// the whole layer's output on the calibration windows, v->o and up->down by
// the output error of o / down alone (from their input Gram matrix), as
// AutoAWQ inspects those modules; then an optional clipping search, then RTN.
#include <cmath>

#include <fmt/format.h>

#include "calibration/gram_collector.h"
#include "export/hf/layer_inputs.h"
#include "export/hf/layer_linears.h"
#include "export/hf/model_quantizer.h"
#include "quant/methods/rtn.h"

#include <cblas.h>

namespace llmq {

namespace {

// Mean |x| per input channel of each linear input of one layer.
class AbsMeanCollector : public ForwardHooks {
 public:
  explicit AbsMeanCollector(int layer) : layer_(layer) {}
  void on_linear_input(int layer, LinearSlot slot, int expert, float* X, int64_t T, int64_t in) override {
    if (layer != layer_) return;
    Acc& a = acc_[LinearKey{layer, slot, expert}];
    if (a.sum.empty()) a.sum.assign(size_t(in), 0.0);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t c = 0; c < in; ++c) a.sum[size_t(c)] += std::fabs(double(X[t * in + c]));
    a.tokens += T;
  }
  struct Acc {
    std::vector<double> sum;
    int64_t tokens = 0;
  };
  const Acc* find(const LinearKey& k) const {
    auto it = acc_.find(k);
    return it == acc_.end() ? nullptr : &it->second;
  }

 private:
  int layer_;
  std::map<LinearKey, Acc> acc_;
};

// Feeds one forward pass to two observers.
class HookPair : public ForwardHooks {
 public:
  HookPair(ForwardHooks& a, ForwardHooks& b) : a_(a), b_(b) {}
  void on_linear_input(int layer, LinearSlot slot, int expert, float* X, int64_t T, int64_t in) override {
    a_.on_linear_input(layer, slot, expert, X, T, in);
    b_.on_linear_input(layer, slot, expert, X, T, in);
  }

 private:
  ForwardHooks& a_;
  ForwardHooks& b_;
};

struct ScaleGroup {
  std::string name;                // "L3.qkv", for the report
  std::vector<Tensor*> linears;    // columns multiplied by s, then quantized
  std::vector<Tensor*> exact;      // columns multiplied by s, kept in full precision (MoE router)
  Tensor* prev_norm = nullptr;     // RMSNorm weight divided by s
  Tensor* prev_rows = nullptr;     // preceding linear: rows divided by s
  Tensor* prev_bias = nullptr;     // and its bias
  std::vector<int64_t> tie = {};   // input channel of `linears` -> index into s (identity when empty)
  std::vector<float> x_mean = {};  // per index into s
  // Set for groups whose loss is the output error of their single linear (v->o, up->down, as
  // AutoAWQ inspects o_proj / down_proj alone): the Gram matrix of that linear's input.
  const GramStats* local_gram = nullptr;
};

int64_t scale_index(const ScaleGroup& g, int64_t c) { return g.tie.empty() ? c : g.tie[size_t(c)]; }

void scale_columns(Tensor& w, const ScaleGroup& g, const std::vector<float>& s) {
  const int64_t rows = w.rows(), cols = w.cols();
  for (int64_t r = 0; r < rows; ++r) {
    float* row = w.row(r);
    for (int64_t c = 0; c < cols; ++c) row[c] *= s[size_t(scale_index(g, c))];
  }
}

// Folds s into the group's weights (fake-quantizing the scaled linears when asked).
void apply_scales(const ScaleGroup& g, const std::vector<float>& s, const IntQuantSpec* fake_quant) {
  if (g.prev_norm)
    for (size_t i = 0; i < s.size(); ++i) g.prev_norm->data[i] /= s[i];
  if (g.prev_rows) {
    const int64_t cols = g.prev_rows->cols();
    for (size_t i = 0; i < s.size(); ++i)
      for (int64_t c = 0; c < cols; ++c) g.prev_rows->data[i * size_t(cols) + size_t(c)] /= s[i];
  }
  if (g.prev_bias && !g.prev_bias->empty())
    for (size_t i = 0; i < s.size(); ++i) g.prev_bias->data[i] /= s[i];
  for (Tensor* w : g.linears) {
    scale_columns(*w, g, s);
    if (fake_quant) fake_quantize_rtn(*w, *fake_quant);
  }
  for (Tensor* w : g.exact) scale_columns(*w, g, s);
}

std::vector<Tensor*> touched(const ScaleGroup& g) {
  std::vector<Tensor*> t(g.linears);
  t.insert(t.end(), g.exact.begin(), g.exact.end());
  for (Tensor* p : {g.prev_norm, g.prev_rows, g.prev_bias})
    if (p && !p->empty()) t.push_back(p);
  return t;
}

std::vector<float> mean_of(const AbsMeanCollector::Acc& a) {
  std::vector<float> m(a.sum.size());
  for (size_t i = 0; i < m.size(); ++i) m[i] = float(a.sum[i] / double(std::max<int64_t>(a.tokens, 1)));
  return m;
}

// The scale groups of layer l, with their activation statistics; groups without any
// calibration tokens (an expert never routed to) are left out.
std::vector<ScaleGroup> scale_groups(ModelWeights& w, int l, const AbsMeanCollector& stats, const GramCollector& grams) {
  const ModelConfig& c = w.cfg;
  LayerWeights& L = w.layers[size_t(l)];
  std::vector<ScaleGroup> groups;
  const std::string p = fmt::format("L{}.", l);

  if (const auto* a = stats.find({l, LinearSlot::QKV, -1})) {
    ScaleGroup g{p + "qkv", {&L.wq, &L.wk, &L.wv}, {}, &L.attn_norm};
    g.x_mean = mean_of(*a);
    groups.push_back(std::move(g));
  }
  if (const auto* a = stats.find({l, LinearSlot::O, -1})) {
    // o's input channel (head h, dim d) reads v's output channel (h / group, d).
    ScaleGroup g{p + "v_o", {&L.wo}, {}, nullptr, &L.wv, &L.bv};
    const int64_t group = c.n_heads / c.n_kv_heads, hd = c.head_dim;
    g.tie.resize(size_t(c.q_dim()));
    for (int64_t ch = 0; ch < c.q_dim(); ++ch) g.tie[size_t(ch)] = (ch / hd / group) * hd + ch % hd;
    std::vector<double> sum(size_t(c.kv_dim()), 0.0);
    const std::vector<float> m = mean_of(*a);
    for (int64_t ch = 0; ch < c.q_dim(); ++ch) sum[size_t(g.tie[size_t(ch)])] += m[size_t(ch)];
    g.x_mean.resize(sum.size());
    for (size_t i = 0; i < sum.size(); ++i) g.x_mean[i] = float(sum[i] / double(group));
    g.local_gram = grams.find({l, LinearSlot::O, -1});
    groups.push_back(std::move(g));
  }
  if (!c.layer_is_moe(l)) {
    if (const auto* a = stats.find({l, LinearSlot::GateUp, -1})) {
      ScaleGroup g{p + "gate_up", {&L.gate, &L.up}, {}, &L.ffn_norm};
      g.x_mean = mean_of(*a);
      groups.push_back(std::move(g));
    }
    if (const auto* a = stats.find({l, LinearSlot::Down, -1})) {
      ScaleGroup g{p + "up_down", {&L.down}, {}, nullptr, &L.up};
      g.x_mean = mean_of(*a);
      g.local_gram = grams.find({l, LinearSlot::Down, -1});
      groups.push_back(std::move(g));
    }
    return groups;
  }
  // MoE: one norm feeds every expert and the router, so one scale for all of them;
  // its statistics are the routed inputs of every expert pooled.
  ScaleGroup gu{p + "experts.gate_up", {}, {&L.router}, &L.ffn_norm};
  AbsMeanCollector::Acc pooled;
  for (int e = 0; e < int(L.experts.size()); ++e) {
    gu.linears.push_back(&L.experts[size_t(e)].gate);
    gu.linears.push_back(&L.experts[size_t(e)].up);
    if (const auto* a = stats.find({l, LinearSlot::GateUp, e})) {
      if (pooled.sum.empty()) pooled.sum.assign(a->sum.size(), 0.0);
      for (size_t i = 0; i < a->sum.size(); ++i) pooled.sum[i] += a->sum[i];
      pooled.tokens += a->tokens;
    }
  }
  if (pooled.tokens > 0) {
    gu.x_mean = mean_of(pooled);
    groups.push_back(std::move(gu));
  }
  for (int e = 0; e < int(L.experts.size()); ++e)
    if (const auto* a = stats.find({l, LinearSlot::Down, e})) {
      ScaleGroup g{fmt::format("{}experts.{}.up_down", p, e), {&L.experts[size_t(e)].down}, {}, nullptr,
                   &L.experts[size_t(e)].up};
      g.x_mean = mean_of(*a);
      g.local_gram = grams.find({l, LinearSlot::Down, e});
      groups.push_back(std::move(g));
    }
  return groups;
}

// Mean over tokens of ||(W - W_q) x||^2 for the group's single linear, where
// W_q = Q(W diag(s)) diag(s)^-1 is what the scaled, quantized linear computes on x.
double local_loss(const ScaleGroup& g, const std::vector<float>& s, const IntQuantSpec& spec) {
  const Tensor& w = *g.linears[0];
  Tensor scaled = w;
  scale_columns(scaled, g, s);
  fake_quantize_rtn(scaled, spec);
  const int64_t rows = w.rows(), cols = w.cols();
  std::vector<double> d(size_t(rows * cols)), dg(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const size_t i = size_t(r * cols + c);
      d[i] = double(w.data[i]) - double(scaled.data[i]) / double(s[size_t(scale_index(g, c))]);
    }
  const std::vector<double> G = g.local_gram->matrix();
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), int(cols), int(cols), 1.0, d.data(), int(cols),
              G.data(), int(cols), 0.0, dg.data(), int(cols));
  double sum = 0;
  for (size_t i = 0; i < d.size(); ++i) sum += d[i] * dg[i];
  return sum / double(std::max<int64_t>(g.local_gram->tokens, 1));
}

}  // namespace

QuantizedModel quantize_model_awq(const ModelWeights& source, const std::vector<std::vector<int32_t>>& windows,
                                  const IntQuantizeOptions& opt, const LayerProgressFn& progress) {
  QuantizedModel qm;
  qm.weights = std::make_shared<ModelWeights>(source);
  Transformer model(qm.weights);
  LayerInputs inputs(model, windows);
  const int n_layers = int(source.cfg.n_layers);

  for (int l = 0; l < n_layers; ++l) {
    // Full-precision outputs of this layer on its (already quantized upstream) inputs: the target.
    AbsMeanCollector stats(l);
    GramCollector local_grams({LinearSlot::O, LinearSlot::Down}, {l});
    HookPair hooks(stats, local_grams);
    std::vector<std::vector<float>> reference;
    inputs.run(l, &hooks, false, &reference);

    for (ScaleGroup& g : scale_groups(*qm.weights, l, stats, local_grams)) {
      if (g.local_gram) {
        AwqSearchResult best = awq_search_scales(g.x_mean, opt.awq.grid, [&](const std::vector<float>& s) {
          return local_loss(g, s, opt.spec);
        });
        apply_scales(g, best.scales, nullptr);
        qm.report["scales"][g.name] = {{"alpha", best.alpha}, {"loss", best.loss}, {"loss_alpha0", best.loss_alpha0}};
        continue;
      }
      const std::vector<Tensor*> t = touched(g);
      std::vector<Tensor> saved;
      for (Tensor* p : t) saved.push_back(*p);
      AwqSearchResult best = awq_search_scales(g.x_mean, opt.awq.grid, [&](const std::vector<float>& s) {
        apply_scales(g, s, &opt.spec);
        const double mse = inputs.output_mse(l, reference);
        for (size_t i = 0; i < t.size(); ++i) *t[i] = saved[i];
        return mse;
      });
      apply_scales(g, best.scales, nullptr);
      qm.report["scales"][g.name] = {{"alpha", best.alpha}, {"loss", best.loss}, {"loss_alpha0", best.loss_alpha0}};
    }

    // Quantize every linear of the layer on its scaled weights, with clipping searched on its inputs.
    GramCollector gram({}, {l});
    if (opt.awq.clip) inputs.run(l, &gram, false);
    for (LayerLinear& lin : layer_linears(*qm.weights, l)) {
      std::vector<float> shrink;
      const GramStats* g = gram.find(lin.key);
      // Like AutoAWQ, q and k are not clipped: attention scores amplify their errors.
      const bool clip = opt.awq.clip && g && g->tokens > 0 && lin.role != TensorRole::AttnQ && lin.role != TensorRole::AttnK;
      if (clip) shrink = awq_search_clip(*lin.weight, opt.spec, g->matrix(), opt.awq);
      QuantizedLinear q = quantize_rtn_clipped(*lin.weight, opt.spec, shrink);
      *lin.weight = q.dequantize();
      qm.report["linears"][lin.name] = {{"method", "awq"}, {"clipped", clip}};
      qm.linears.insert_or_assign(lin.name, std::move(q));
    }
    if (opt.sequential) inputs.run(l, nullptr, true);
    else inputs.set_states(std::move(reference));
    if (progress) progress(l, n_layers);
  }
  return qm;
}

}  // namespace llmq
