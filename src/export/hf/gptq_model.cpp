// Model-level GPTQ: Hessians per linear input from calibration windows,
// layer after layer (sequential) or from one full-precision pass.
#include <map>
#include <optional>

#include <fmt/format.h>

#include "calibration/calibration_pass.h"
#include "calibration/gram_collector.h"
#include "calibration/window_blocks.h"
#include "distributed/byte_codec.h"
#include "export/hf/layer_inputs.h"
#include "export/hf/layer_linears.h"
#include "export/hf/linear_jobs.h"
#include "export/hf/model_quantizer.h"
#include "model/layer_residency.h"
#include "quant/methods/rtn.h"

namespace llmq {

namespace {

// Quantizes one linear from the Gram matrix of its input (RTN when too few tokens reached it).
LinearOutcome quantize_linear(const LayerLinear& l, const GramStats* g, std::optional<GramStats> taken,
                              const IntQuantizeOptions& opt) {
  LinearOutcome o;
  const bool expert = l.key.expert >= 0;
  if (!g || g->tokens == 0 || (expert && g->tokens < opt.min_expert_tokens)) {
    // Too few routed tokens for a meaningful Hessian: RTN, and say so.
    const int64_t tokens = g ? g->tokens : 0;
    o.q = quantize_rtn(*l.weight, opt.spec_of(l.name));
    o.rtn_fallbacks.push_back(fmt::format("{}: {} calibration tokens (< {}), RTN", l.name, tokens, opt.min_expert_tokens));
    o.report = {{"method", "rtn"}, {"tokens", tokens}, {"reason", "too few calibration tokens"}};
    return o;
  }
  GptqStats st;
  std::vector<double> gm = taken ? std::move(*taken).take_matrix() : g->matrix();
  o.q = gptq_quantize(*l.weight, hessian_from_gram(std::move(gm), g->tokens), opt.spec_of(l.name), opt.gptq, &st);
  o.report = {{"method", st.rtn_fallback ? "rtn" : "gptq"}, {"tokens", g->tokens}, {"loss", st.loss},
              {"damp_percent", st.damp_percent}, {"dead_columns", st.dead_columns}};
  if (!st.warning.empty()) {
    o.warnings.push_back(l.name + ": " + st.warning);
    o.report["warning"] = st.warning;
  }
  if (st.rtn_fallback) o.rtn_fallbacks.push_back(l.name + ": " + st.warning);
  return o;
}

// Quantizes the given linears of a layer from the Gram matrices collected
// for them, each on the rank that owns it (linear_jobs.h).
void quantize_linears(std::vector<LayerLinear>& linears, GramCollector& gram, const IntQuantizeOptions& opt,
                      QuantizedModel& qm, Cluster& cluster) {
  // The last of this rank's linears reading an input takes its Gram matrix instead of copying it (n^2 doubles).
  const std::vector<int> owner = assign_linear_owners(linears, cluster.size());
  std::map<LinearKey, int> uses;
  for (size_t i = 0; i < linears.size(); ++i)
    if (owner[i] == cluster.rank()) ++uses[linears[i].key];
  quantize_linears_across_ranks(linears, cluster, [&](size_t i) {
    const LayerLinear& l = linears[i];
    std::optional<GramStats> taken;
    const GramStats* g = gram.find(l.key);
    if (g && --uses[l.key] == 0) {
      taken = gram.take(l.key);
      g = &*taken;
    }
    return quantize_linear(l, g, std::move(taken), opt);
  }, qm);
}

// Each Gram total goes from the rank that finished summing it (the last of
// the chain) only to the ranks whose linears read it, as its upper triangle.
void deliver_grams(GramCollector& gram, const std::vector<LayerLinear>& linears, Cluster& cluster) {
  constexpr int kGramTag = 7300;
  const int holder = cluster.size() - 1;
  const std::vector<int> owner = assign_linear_owners(linears, cluster.size());
  std::map<LinearKey, std::set<int>> readers;
  for (size_t i = 0; i < linears.size(); ++i) readers[linears[i].key].insert(owner[i]);
  for (const auto& [key, ranks] : readers) {
    for (int r : ranks) {
      if (r == holder) continue;
      if (cluster.rank() == holder) {
        const GramStats* g = gram.find(key);
        ByteWriter w;
        w.put<int64_t>(g ? g->n : -1);
        w.put<int64_t>(g ? g->tokens : 0);
        if (g) w.put_vector(pack_upper(g->upper, g->n));
        cluster.send(r, kGramTag, w.bytes());
      } else if (cluster.rank() == r) {
        const std::vector<uint8_t> bytes = cluster.receive(holder, kGramTag);
        ByteReader rd(bytes, "Gram matrix of " + linear_key_name(key));
        GramStats g;
        g.n = rd.get<int64_t>();
        g.tokens = rd.get<int64_t>();
        if (g.n >= 0) {
          g.upper = unpack_upper(rd.get_vector<double>(), g.n);
          gram.put(key, std::move(g));
        }
      }
    }
    if (cluster.rank() == holder && !ranks.count(holder)) gram.take(key);  // sent on; not read here
  }
}

// One true-sequential stage's statistics: the Gram matrices of its slots'
// inputs, and the end of the layer pass once the last of them has gone by
// (the pass's output is thrown away), so that the q/k/v stage costs a norm
// and the o stage the attention, not a whole layer each.
class StageHooks : public ForwardHooks {
 public:
  StageHooks(GramCollector& gram, const std::set<LinearSlot>& stage) : gram_(gram), last_(*stage.rbegin()) {}
  void on_linear_input(int layer, LinearSlot slot, int expert, float* X, int64_t T, int64_t in) override {
    gram_.on_linear_input(layer, slot, expert, X, T, in);
  }
  bool done_after(int, LinearSlot slot) const override { return slot == last_; }

 private:
  GramCollector& gram_;
  LinearSlot last_;  // the slots run in enum order: QKV, O, GateUp, Down
};

std::vector<LayerLinear> of_slots(const std::vector<LayerLinear>& all, const std::set<LinearSlot>& slots) {
  std::vector<LayerLinear> out;
  for (const LayerLinear& l : all)
    if (slots.count(l.key.slot)) out.push_back(l);
  return out;
}

}  // namespace

QuantizedModel quantize_model_gptq(const ModelWeights& source, const std::vector<std::vector<int32_t>>& windows,
                                   const IntQuantizeOptions& opt, const LayerProgressFn& progress, IntLayerStream* stream) {
  QuantizedModel qm;
  qm.weights = std::make_shared<ModelWeights>(source);
  Transformer model(qm.weights);  // reads the weights as they are being quantized
  const int n_layers = int(source.cfg.n_layers);
  const int first = stream ? stream->first_layer : 0;
  const IgnoreList ignore(opt.ignore);

  // Windows go in fixed blocks, spread over the ranks of a distributed job (window_blocks.h).
  Cluster& cluster = Cluster::get();
  const WindowBlocks blocks(int64_t(windows.size()), kGptqWindowsPerBlock);
  const auto [own_first, own_end] = windows_of_rank(blocks, 0, cluster.rank(), cluster.size());

  if (!opt.sequential) {
    GramCollector gram;
    collect_in_blocks({&gram}, blocks, cluster, [&](int64_t w0, int64_t w1, const std::vector<Collector*>& into) {
      CalibrationPass pass(model);
      pass.add(*into[0]);
      for (int64_t i = w0; i < w1; ++i) pass.run_window(windows[size_t(i)], i);
    }, Delivery::All);
    for (int l = first; l < n_layers; ++l) {
      prepare_layer(*qm.weights, l, stream);
      std::vector<LayerLinear> linears = without_ignored(layer_linears(*qm.weights, l), ignore);
      quantize_linears(linears, gram, opt, qm, cluster);
      finish_layer(qm, source, l, stream, nullptr);
      if (progress) progress(l, n_layers);
    }
    return qm;
  }

  const std::vector<std::set<LinearSlot>> stages =
      opt.true_sequential ? std::vector<std::set<LinearSlot>>{{LinearSlot::QKV}, {LinearSlot::O}, {LinearSlot::GateUp}, {LinearSlot::Down}}
                          : std::vector<std::set<LinearSlot>>{{LinearSlot::QKV, LinearSlot::O, LinearSlot::GateUp, LinearSlot::Down}};
  // This rank keeps the hidden states of its own windows only.
  const std::vector<std::vector<int32_t>> own(windows.begin() + own_first, windows.begin() + own_end);
  LayerInputs inputs(model, own, stream ? stream->state_memory : nullptr);
  if (first > 0) inputs.set_states(std::move(stream->states));
  for (int l = first; l < n_layers; ++l) {
    prepare_layer(*qm.weights, l, stream);
    const std::vector<LayerLinear> all = without_ignored(layer_linears(*qm.weights, l), ignore);
    for (const std::set<LinearSlot>& stage : stages) {
      GramCollector gram(stage, {l});
      collect_in_blocks({&gram}, blocks, cluster, [&](int64_t w0, int64_t w1, const std::vector<Collector*>& into) {
        StageHooks hooks(*static_cast<GramCollector*>(into[0]), stage);
        inputs.run(l, &hooks, false, w0 - own_first, w1 - own_first);
      }, cluster.single() ? Delivery::All : Delivery::Last);
      std::vector<LayerLinear> linears = of_slots(all, stage);
      if (!cluster.single()) {
        if (cluster.rank() != cluster.size() - 1) gram.clear();  // partial sums: the totals come from the last rank
        deliver_grams(gram, linears, cluster);
      }
      quantize_linears(linears, gram, opt, qm, cluster);
    }
    inputs.run(l, nullptr, true);  // the next layer sees this one quantized
    finish_layer(qm, source, l, stream, &inputs.states());
    if (progress) progress(l, n_layers);
  }
  return qm;
}

}  // namespace llmq
