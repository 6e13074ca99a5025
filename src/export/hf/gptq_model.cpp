// Model-level GPTQ: Hessians per linear input from calibration windows,
// layer after layer (sequential) or from one full-precision pass.
#include <map>
#include <optional>

#include <fmt/format.h>

#include "calibration/calibration_pass.h"
#include "calibration/gram_collector.h"
#include "export/hf/layer_inputs.h"
#include "export/hf/layer_linears.h"
#include "export/hf/model_quantizer.h"
#include "model/layer_residency.h"
#include "quant/methods/rtn.h"

namespace llmq {

namespace {

// Quantizes the given linears of a layer from the Gram matrices collected for them.
void quantize_linears(std::vector<LayerLinear>& linears, GramCollector& gram, const IntQuantizeOptions& opt,
                      QuantizedModel& qm) {
  // The last linear reading an input takes its Gram matrix instead of copying it (the matrices are n^2 doubles).
  std::map<LinearKey, int> uses;
  for (const LayerLinear& l : linears) ++uses[l.key];
  for (LayerLinear& l : linears) {
    std::optional<GramStats> taken;
    const GramStats* g = gram.find(l.key);
    if (g && --uses[l.key] == 0) {
      taken = gram.take(l.key);
      g = &*taken;
    }
    nlohmann::json rep;
    QuantizedLinear q;
    const bool expert = l.key.expert >= 0;
    if (!g || g->tokens == 0 || (expert && g->tokens < opt.min_expert_tokens)) {
      // Too few routed tokens for a meaningful Hessian: RTN, and say so.
      const int64_t tokens = g ? g->tokens : 0;
      q = quantize_rtn(*l.weight, opt.spec_of(l.name));
      qm.rtn_fallbacks.push_back(fmt::format("{}: {} calibration tokens (< {}), RTN", l.name, tokens, opt.min_expert_tokens));
      rep = {{"method", "rtn"}, {"tokens", tokens}, {"reason", "too few calibration tokens"}};
    } else {
      GptqStats st;
      std::vector<double> gm = taken ? std::move(*taken).take_matrix() : g->matrix();
      q = gptq_quantize(*l.weight, hessian_from_gram(std::move(gm), g->tokens), opt.spec_of(l.name), opt.gptq, &st);
      rep = {{"method", st.rtn_fallback ? "rtn" : "gptq"}, {"tokens", g->tokens}, {"loss", st.loss},
             {"damp_percent", st.damp_percent}, {"dead_columns", st.dead_columns}};
      if (!st.warning.empty()) {
        qm.warnings.push_back(l.name + ": " + st.warning);
        rep["warning"] = st.warning;
      }
      if (st.rtn_fallback) qm.rtn_fallbacks.push_back(l.name + ": " + st.warning);
    }
    *l.weight = q.dequantize();  // later stages and layers see the quantized weights
    qm.report["linears"][l.name] = rep;
    qm.linears.insert_or_assign(l.name, std::move(q));
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

  if (!opt.sequential) {
    GramCollector gram;
    CalibrationPass pass(model);
    pass.add(gram);
    pass.run(windows);
    for (int l = first; l < n_layers; ++l) {
      prepare_layer(*qm.weights, l, stream);
      std::vector<LayerLinear> linears = without_ignored(layer_linears(*qm.weights, l), ignore);
      quantize_linears(linears, gram, opt, qm);
      finish_layer(qm, source, l, stream, nullptr);
      if (progress) progress(l, n_layers);
    }
    return qm;
  }

  const std::vector<std::set<LinearSlot>> stages =
      opt.true_sequential ? std::vector<std::set<LinearSlot>>{{LinearSlot::QKV}, {LinearSlot::O}, {LinearSlot::GateUp}, {LinearSlot::Down}}
                          : std::vector<std::set<LinearSlot>>{{LinearSlot::QKV, LinearSlot::O, LinearSlot::GateUp, LinearSlot::Down}};
  LayerInputs inputs(model, windows, stream ? stream->state_memory : nullptr);
  if (first > 0) inputs.set_states(std::move(stream->states));
  for (int l = first; l < n_layers; ++l) {
    prepare_layer(*qm.weights, l, stream);
    const std::vector<LayerLinear> all = without_ignored(layer_linears(*qm.weights, l), ignore);
    for (const std::set<LinearSlot>& stage : stages) {
      GramCollector gram(stage, {l});
      StageHooks hooks(gram, stage);
      inputs.run(l, &hooks, false);
      std::vector<LayerLinear> linears = of_slots(all, stage);
      quantize_linears(linears, gram, opt, qm);
    }
    inputs.run(l, nullptr, true);  // the next layer sees this one quantized
    finish_layer(qm, source, l, stream, &inputs.states());
    if (progress) progress(l, n_layers);
  }
  return qm;
}

}  // namespace llmq
