// Model-level AWQ, in the way AutoAWQ applies it to llama-style blocks:
//   q/k/v      scaled against the attention RMSNorm,
//   o          against v (per kv channel, shared by the query heads of a group),
//   gate/up    against the MLP RMSNorm (MoE: every expert, the router kept exact),
//   down       against up (per expert).
// One pass over the calibration windows per layer collects mean |x| and the
// Gram matrix X^T X of every linear input. Each scale's alpha is then chosen
// by the output error of the linears it multiplies (q/k/v together, gate/up
// together, o alone, down alone), evaluated from those Gram matrices, so a
// grid point costs out * in^2 and never reruns the model. AutoAWQ inspects
// the attention / MLP module output for q/k/v and gate/up; the linears'
// own outputs are what those modules are built from, and the search is
// hundreds of times cheaper. With fewer calibration tokens than input
// channels, a grid point costs out * in * tokens instead (a low-rank factor
// of the Gram matrix). The Gram matrices are then rescaled by the
// chosen s (the folded inputs are x / s), the clipping search runs on them,
// and every linear is rounded to nearest on its scaled weights.
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "calibration/gram_collector.h"
#include "calibration/window_blocks.h"
#include "distributed/cluster.h"
#include "export/hf/layer_inputs.h"
#include "export/hf/layer_linears.h"
#include "export/hf/linear_jobs.h"
#include "export/hf/model_quantizer.h"
#include "model/layer_residency.h"
#include "quant/methods/gram_factor.h"
#include "quant/methods/rtn.h"

namespace llmq {

namespace {

// Mean |x| per input channel of each linear input of one layer.
class AbsMeanCollector : public Collector {
 public:
  explicit AbsMeanCollector(int layer) : layer_(layer) {}
  std::string name() const override { return "abs_mean"; }
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
  CollectorState save_state() const override {
    CollectorState st;
    for (const auto& [k, a] : acc_) {
      st[linear_key_name(k) + ".sum"] = a.sum;
      st[linear_key_name(k) + ".tokens"] = {double(a.tokens)};
    }
    return st;
  }
  void load_state(const CollectorState& state) override {
    acc_.clear();
    for (const auto& [name, values] : state) {
      const size_t dot = name.rfind('.');
      Acc& a = acc_[parse_linear_key(name.substr(0, dot))];
      if (name.substr(dot + 1) == "sum") a.sum = values;
      else if (values.size() == 1) a.tokens = int64_t(values[0]);
      else fail("activation means: unexpected array '{}'", name);
    }
  }
  std::unique_ptr<Collector> empty_clone() const override { return std::make_unique<AbsMeanCollector>(layer_); }
  void merge(const Collector& later) override {
    for (const auto& [k, a] : same_collector<AbsMeanCollector>(*this, later).acc_) {
      Acc& mine = acc_[k];
      add_elementwise(mine.sum, a.sum, "activation means of " + linear_key_name(k));
      mine.tokens += a.tokens;
    }
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
  std::vector<LinearKey> inputs = {};  // calibration key of each of `linears` (its Gram matrix)
};

int64_t scale_index(const ScaleGroup& g, int64_t c) { return g.tie.empty() ? c : g.tie[size_t(c)]; }

void scale_columns(Tensor& w, const ScaleGroup& g, const std::vector<float>& s) {
  const int64_t rows = w.rows(), cols = w.cols();
  for (int64_t r = 0; r < rows; ++r) {
    float* row = w.row(r);
    for (int64_t c = 0; c < cols; ++c) row[c] *= s[size_t(scale_index(g, c))];
  }
}

// Folds s into the group's weights: columns of the linears times s, the producer of their input divided by s.
void apply_scales(const ScaleGroup& g, const std::vector<float>& s) {
  if (g.prev_norm)
    for (size_t i = 0; i < s.size(); ++i) g.prev_norm->data[i] /= s[i];
  if (g.prev_rows) {
    const int64_t cols = g.prev_rows->cols();
    for (size_t i = 0; i < s.size(); ++i)
      for (int64_t c = 0; c < cols; ++c) g.prev_rows->data[i * size_t(cols) + size_t(c)] /= s[i];
  }
  if (g.prev_bias && !g.prev_bias->empty())
    for (size_t i = 0; i < s.size(); ++i) g.prev_bias->data[i] /= s[i];
  for (Tensor* w : g.linears) scale_columns(*w, g, s);
  for (Tensor* w : g.exact) scale_columns(*w, g, s);
}

std::vector<float> mean_of(const AbsMeanCollector::Acc& a) {
  std::vector<float> m(a.sum.size());
  for (size_t i = 0; i < m.size(); ++i) m[i] = float(a.sum[i] / double(std::max<int64_t>(a.tokens, 1)));
  return m;
}

// The scale groups of layer l, with their activation statistics; groups without any
// calibration tokens (an expert never routed to) are left out.
std::vector<ScaleGroup> scale_groups(ModelWeights& w, int l, const AbsMeanCollector& stats) {
  const ModelConfig& c = w.cfg;
  LayerWeights& L = w.layers[size_t(l)];
  std::vector<ScaleGroup> groups;
  const std::string p = fmt::format("L{}.", l);
  const LinearKey qkv{l, LinearSlot::QKV, -1}, o{l, LinearSlot::O, -1};

  if (const auto* a = stats.find(qkv)) {
    ScaleGroup g{p + "qkv", {&L.wq, &L.wk, &L.wv}, {}, &L.attn_norm};
    g.x_mean = mean_of(*a);
    g.inputs = {qkv, qkv, qkv};
    groups.push_back(std::move(g));
  }
  if (const auto* a = stats.find(o)) {
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
    g.inputs = {o};
    groups.push_back(std::move(g));
  }
  if (!c.layer_is_moe(l)) {
    const LinearKey gu{l, LinearSlot::GateUp, -1}, down{l, LinearSlot::Down, -1};
    if (const auto* a = stats.find(gu)) {
      ScaleGroup g{p + "gate_up", {&L.gate, &L.up}, {}, &L.ffn_norm};
      g.x_mean = mean_of(*a);
      g.inputs = {gu, gu};
      groups.push_back(std::move(g));
    }
    if (const auto* a = stats.find(down)) {
      ScaleGroup g{p + "up_down", {&L.down}, {}, nullptr, &L.up};
      g.x_mean = mean_of(*a);
      g.inputs = {down};
      groups.push_back(std::move(g));
    }
    return groups;
  }
  // MoE: one norm feeds every expert and the router, so one scale for all of them;
  // its statistics are the routed inputs of every expert pooled.
  ScaleGroup gu{p + "experts.gate_up", {}, {&L.router}, &L.ffn_norm};
  AbsMeanCollector::Acc pooled;
  for (int e = 0; e < int(L.experts.size()); ++e) {
    const LinearKey key{l, LinearSlot::GateUp, e};
    gu.linears.push_back(&L.experts[size_t(e)].gate);
    gu.linears.push_back(&L.experts[size_t(e)].up);
    gu.inputs.insert(gu.inputs.end(), {key, key});
    if (const auto* a = stats.find(key)) {
      if (pooled.sum.empty()) pooled.sum.assign(a->sum.size(), 0.0);
      for (size_t i = 0; i < a->sum.size(); ++i) pooled.sum[i] += a->sum[i];
      pooled.tokens += a->tokens;
    }
  }
  if (pooled.tokens > 0) {
    gu.x_mean = mean_of(pooled);
    groups.push_back(std::move(gu));
  }
  for (int e = 0; e < int(L.experts.size()); ++e) {
    const LinearKey key{l, LinearSlot::Down, e};
    if (const auto* a = stats.find(key)) {
      ScaleGroup g{fmt::format("{}experts.{}.up_down", p, e), {&L.experts[size_t(e)].down}, {}, nullptr,
                   &L.experts[size_t(e)].up};
      g.x_mean = mean_of(*a);
      g.inputs = {key};
      groups.push_back(std::move(g));
    }
  }
  return groups;
}

// The Gram matrices of one layer's linear inputs, kept in step with the folded scales.
class LayerGrams {
 public:
  explicit LayerGrams(const GramCollector& c) {
    for (const auto& [key, g] : c.stats())
      if (g.tokens > 0) grams_.emplace(key, g.matrix());
  }
  const std::vector<double>* find(const LinearKey& k) const {
    auto it = grams_.find(k);
    return it == grams_.end() ? nullptr : &it->second;
  }
  // Once the input x becomes x / s: G_ij / (s_i s_j).
  void rescale(const LinearKey& k, const ScaleGroup& g, const std::vector<float>& s) {
    auto it = grams_.find(k);
    if (it == grams_.end()) return;
    std::vector<double>& G = it->second;
    const int64_t n = int64_t(std::llround(std::sqrt(double(G.size()))));
    for (int64_t i = 0; i < n; ++i) {
      const double si = s[size_t(scale_index(g, i))];
      for (int64_t j = 0; j < n; ++j) G[size_t(i * n + j)] /= si * double(s[size_t(scale_index(g, j))]);
    }
  }

 private:
  std::map<LinearKey, std::vector<double>> grams_;
};

// Ignored linears still take the scale (the function must not change) but stay exact and out of
// the loss; a group left with nothing to quantize is not scaled at all.
std::vector<ScaleGroup> drop_ignored(std::vector<ScaleGroup> groups, const std::set<const Tensor*>& ignored) {
  std::vector<ScaleGroup> out;
  for (ScaleGroup& g : groups) {
    ScaleGroup kept = g;
    kept.linears.clear();
    kept.inputs.clear();
    for (size_t i = 0; i < g.linears.size(); ++i) {
      if (ignored.count(g.linears[i])) {
        kept.exact.push_back(g.linears[i]);
      } else {
        kept.linears.push_back(g.linears[i]);
        kept.inputs.push_back(g.inputs[i]);
      }
    }
    if (!kept.linears.empty()) out.push_back(std::move(kept));
  }
  return out;
}

// Searches the group's scale on its linears' output error and folds it in.
AwqSearchResult scale_group(const ScaleGroup& g, LayerGrams& grams, const IntQuantizeOptions& opt) {
  // Per input, what every grid point multiplies by: a low-rank factor when the input saw fewer tokens
  // than it has channels, else the Gram matrix in single precision.
  struct InputForm {
    GramFactor factor;
    std::vector<float> gram;
  };
  std::map<LinearKey, InputForm> forms;
  std::vector<AwqScaledLinear> targets;
  for (size_t i = 0; i < g.linears.size(); ++i) {
    const std::vector<double>* G = grams.find(g.inputs[i]);
    if (!G) continue;  // an expert that saw no tokens: nothing to measure
    auto [it, fresh] = forms.try_emplace(g.inputs[i]);
    if (fresh) {
      it->second.factor = low_rank_gram_factor(*G, g.linears[i]->cols());
      if (it->second.factor.f.empty()) it->second.gram.assign(G->begin(), G->end());
    }
    targets.push_back({g.linears[i], &it->second.gram, g.tie.empty() ? nullptr : &g.tie, &it->second.factor});
  }
  AwqSearchResult best = awq_search_group(targets, g.x_mean, opt.spec, opt.awq);
  apply_scales(g, best.scales);
  for (const auto& [key, unused] : forms) grams.rescale(key, g, best.scales);
  return best;
}

}  // namespace

QuantizedModel quantize_model_awq(const ModelWeights& source, const std::vector<std::vector<int32_t>>& windows,
                                  const IntQuantizeOptions& opt, const LayerProgressFn& progress, IntLayerStream* stream) {
  QuantizedModel qm;
  qm.weights = std::make_shared<ModelWeights>(source);
  Transformer model(qm.weights);
  // Windows in fixed blocks spread over the ranks of a distributed job; this rank carries its own.
  Cluster& cluster = Cluster::get();
  const WindowBlocks blocks(int64_t(windows.size()), kGptqWindowsPerBlock);
  const auto [own_first, own_end] = windows_of_rank(blocks, 0, cluster.rank(), cluster.size());
  const std::vector<std::vector<int32_t>> own(windows.begin() + own_first, windows.begin() + own_end);
  LayerInputs inputs(model, own, stream ? stream->state_memory : nullptr);
  const int n_layers = int(source.cfg.n_layers);
  const int first = stream ? stream->first_layer : 0;
  if (first > 0) inputs.set_states(std::move(stream->states));
  int64_t all_tokens = 0;
  for (const auto& w : windows) all_tokens += int64_t(w.size());
  const double tokens = double(std::max<int64_t>(all_tokens, 1));
  const IgnoreList ignore(opt.ignore);

  for (int l = first; l < n_layers; ++l) {
    prepare_layer(*qm.weights, l, stream);
    // The layer's input statistics, on inputs from the already quantized layers (sequential) or from
    // the full-precision model (then this pass also advances the states through the unquantized layer).
    AbsMeanCollector stats(l);
    GramCollector gram_collector({}, {l});
    // Every rank gets the totals: each searches the same scales on the same statistics.
    collect_in_blocks({&stats, &gram_collector}, blocks, cluster, [&](int64_t w0, int64_t w1, const std::vector<Collector*>& into) {
      HookPair hooks(*into[0], *into[1]);
      inputs.run(l, &hooks, !opt.sequential, w0 - own_first, w1 - own_first);
    }, Delivery::All);
    LayerGrams grams(gram_collector);
    gram_collector.clear();

    std::set<const Tensor*> ignored;
    for (const LayerLinear& lin : layer_linears(*qm.weights, l))
      if (ignore.ignored(lin.name)) ignored.insert(lin.weight);
    for (const ScaleGroup& g : drop_ignored(scale_groups(*qm.weights, l, stats), ignored)) {
      const AwqSearchResult best = scale_group(g, grams, opt);
      qm.report["scales"][g.name] = {{"alpha", best.alpha}, {"identity", best.identity},
                                     {"loss", best.loss / tokens}, {"loss_rtn", best.loss_identity / tokens}};
    }

    // Quantize every linear of the layer on its scaled weights, with clipping searched on its
    // inputs, each on the rank that owns it (linear_jobs.h).
    std::vector<LayerLinear> linears = without_ignored(layer_linears(*qm.weights, l), ignore);
    quantize_linears_across_ranks(linears, cluster, [&](size_t i) {
      const LayerLinear& lin = linears[i];
      std::vector<float> shrink;
      const std::vector<double>* G = grams.find(lin.key);
      // Like AutoAWQ, q and k are not clipped: attention scores amplify their errors.
      const bool clip = opt.awq.clip && G && lin.role != TensorRole::AttnQ && lin.role != TensorRole::AttnK;
      if (clip) shrink = awq_search_clip(*lin.weight, opt.spec, *G, opt.awq);
      LinearOutcome o;
      o.q = quantize_rtn_clipped(*lin.weight, opt.spec, shrink);
      o.report = {{"method", "awq"}, {"clipped", clip}};
      return o;
    }, qm);
    if (opt.sequential) inputs.run(l, nullptr, true);  // the next layer sees this one quantized
    finish_layer(qm, source, l, stream, &inputs.states());
    if (progress) progress(l, n_layers);
  }
  return qm;
}

}  // namespace llmq
