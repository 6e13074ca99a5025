#include "export/hf/lowbit_model.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "calibration/activation_range_collector.h"
#include "calibration/calibration_pass.h"
#include "calibration/importance_collector.h"
#include "calibration/kv_range_collector.h"
#include "export/hf/layer_linears.h"
#include "export/hf/smoothquant_model.h"
#include "model/layer_residency.h"
#include "model/transformer.h"
#include "quant/formats/fp/minifloat.h"
#include "quant/methods/smoothquant.h"
#include "calibration/window_blocks.h"
#include "distributed/cluster.h"
#include "util/error.h"

namespace llmq {

namespace {

struct CalibrationStats {
  ImportanceCollector importance;
  ActivationRangeCollector ranges;
  KvRangeCollector kv;
  bool collected = false;
};

void calibrate(const ModelWeights& source, const std::vector<std::vector<int32_t>>& windows, const LowbitScheme& s,
               CalibrationStats& stats) {
  if (!s.needs_calibration()) return;
  if (windows.empty()) fail("{} needs calibration data (no calibration windows)", s.name());
  // The pass only reads the weights: alias them rather than copy a whole model.
  Transformer model(std::shared_ptr<const ModelWeights>(&source, [](const ModelWeights*) {}));
  std::vector<Collector*> collectors = {&stats.importance, &stats.ranges};
  if (s.kv_fp8) collectors.push_back(&stats.kv);
  // Windows in fixed blocks, spread over the ranks of a distributed job; rank 0 continues alone.
  collect_in_blocks(collectors, WindowBlocks(int64_t(windows.size()), kLowbitWindowsPerBlock), Cluster::get(),
                    [&](int64_t w0, int64_t w1, const std::vector<Collector*>& into) {
                      CalibrationPass pass(model);
                      for (Collector* c : into) pass.add(*c);
                      for (int64_t i = w0; i < w1; ++i) pass.run_window(windows[size_t(i)], i);
                    },
                    Delivery::Root);
  stats.collected = true;
}

// Per-channel maxima of a linear input after smoothing (x / s).
std::vector<float> smoothed_max(const ActivationRange& r, const std::vector<float>* s) {
  std::vector<float> m = r.max_abs;
  if (s)
    for (size_t j = 0; j < m.size(); ++j) m[j] /= (*s)[j];
  return m;
}

const std::vector<float>* factors_of(const SmoothingFactors& f, const LinearKey& k) {
  auto it = f.find(k);
  return it == f.end() ? nullptr : &it->second;
}

// Per-channel maxima of a layer's input: the dense one, or over all experts
// for an MoE gate/up input (one norm feeds them all).
std::optional<ActivationRange> layer_input_range(const ActivationRangeCollector& ranges, int l, LinearSlot slot) {
  if (const ActivationRange* r = ranges.find({l, slot, -1})) return r->tokens > 0 ? std::optional(*r) : std::nullopt;
  if (slot != LinearSlot::GateUp) return std::nullopt;  // MoE down inputs differ per expert
  std::optional<ActivationRange> all;
  for (const auto& [k, r] : ranges.stats()) {
    if (k.layer != l || k.slot != slot || r.tokens == 0) continue;
    if (!all) all = r;
    for (size_t j = 0; j < r.max_abs.size(); ++j) all->max_abs[j] = std::max(all->max_abs[j], r.max_abs[j]);
  }
  return all;
}

// max/median of the per-channel maxima of the q/k/v and gate/up inputs, before and after smoothing.
nlohmann::json outlier_report(const ModelConfig& c, const ActivationRangeCollector& ranges, const SmoothingFactors& f) {
  nlohmann::json layers = nlohmann::json::array();
  double worst_before = 0, worst_after = 0;
  for (int l = 0; l < int(c.n_layers); ++l) {
    nlohmann::json row = {{"layer", l}};
    for (LinearSlot slot : {LinearSlot::QKV, LinearSlot::O, LinearSlot::GateUp, LinearSlot::Down}) {
      const std::optional<ActivationRange> r = layer_input_range(ranges, l, slot);
      if (!r) continue;
      const double before = max_over_median(r->max_abs);
      const double after = max_over_median(smoothed_max(*r, factors_of(f, {l, slot, -1})));
      row[linear_slot_name(slot)] = {{"max_over_median", before}, {"smoothed", after}};
      if (slot == LinearSlot::QKV || slot == LinearSlot::GateUp) {
        worst_before = std::max(worst_before, before);
        worst_after = std::max(worst_after, after);
      }
    }
    layers.push_back(row);
  }
  return {{"layers", layers}, {"qkv_gate_up_max_over_median", worst_before}, {"qkv_gate_up_smoothed", worst_after}};
}

// Static per-tensor activation scales of layer l: the largest calibrated magnitude (after smoothing) / the format max.
void set_static_scales(LowbitModel& m, const ActivationRangeCollector& ranges, const SmoothingFactors& f, int l) {
  const float qmax = m.scheme.weights == LowbitWeights::Int8 ? 127.0f : fp::kE4M3Max;
  LinearInputQuant& in = m.weights->runtime.inputs;
  for (const auto& [k, r] : ranges.stats()) {
    if (k.layer != l || r.tokens == 0) continue;
    const std::vector<float> mx = smoothed_max(r, factors_of(f, k));
    float& s = in.static_scales[size_t(k.layer) * 4 + size_t(k.slot)];
    s = std::max(s, *std::max_element(mx.begin(), mx.end()) / qmax);  // experts share their layer's scale
  }
  for (size_t i = size_t(l) * 4; i < size_t(l + 1) * 4; ++i)
    if (!(in.static_scales[i] > 0.0f)) in.static_scales[i] = 1.0f;  // an input no calibration token reached
}

void set_kv_scales(LowbitModel& m, const KvRangeCollector& kv) {
  const size_t L = size_t(m.weights->cfg.n_layers);
  m.k_scale.assign(L, 1.0f);
  m.v_scale.assign(L, 1.0f);
  for (size_t l = 0; l < std::min(L, kv.k_max().size()); ++l) {
    if (kv.k_max()[l] > 0.0f) m.k_scale[l] = kv.k_max()[l] / fp::kE4M3Max;
    if (kv.v_max()[l] > 0.0f) m.v_scale[l] = kv.v_max()[l] / fp::kE4M3Max;
  }
  m.weights->runtime.kv = {true, m.k_scale, m.v_scale};
  m.report["kv_cache"] = {{"k_scale", m.k_scale}, {"v_scale", m.v_scale}};
}

// E[x_j^2] of the smoothed input: the original divided by s_j^2.
std::vector<float> importance_of(const CalibrationStats& st, const SmoothingFactors& f, const LinearKey& k) {
  if (!st.collected) return {};
  const ImportanceStats* imp = st.importance.find(k);
  if (!imp) return {};
  std::vector<float> v = imp->mean_sq();
  if (const auto* s = factors_of(f, k))
    for (size_t j = 0; j < v.size(); ++j) v[j] /= (*s)[j] * (*s)[j];
  return v;
}

// vLLM runs q/k/v as one fused layer, and gate/up (per expert too), with one
// tensor-level scale for the whole: the largest per-tensor FP8 scale (it
// requantizes the others to it) or 1 / the largest NVFP4 global scale. So
// they are quantized as one stacked matrix, and share what vLLM will use.
std::vector<std::vector<LayerLinear*>> fused_groups(std::vector<LayerLinear>& linears) {
  std::vector<std::vector<LayerLinear*>> groups;
  std::map<LinearKey, size_t> fused;  // QKV and GateUp inputs -> their group
  for (LayerLinear& l : linears) {
    const bool fusable = l.key.slot == LinearSlot::QKV || l.key.slot == LinearSlot::GateUp;
    auto it = fusable ? fused.find(l.key) : fused.end();
    if (it != fused.end()) {
      groups[it->second].push_back(&l);
      continue;
    }
    if (fusable) fused[l.key] = groups.size();
    groups.push_back({&l});
  }
  return groups;
}

Tensor stack_rows(const std::vector<LayerLinear*>& group) {
  if (group.size() == 1) return *group.front()->weight;
  int64_t rows = 0;
  for (const LayerLinear* l : group) rows += l->weight->rows();
  Tensor t;
  t.shape = {rows, group.front()->weight->cols()};
  for (const LayerLinear* l : group) t.data.insert(t.data.end(), l->weight->data.begin(), l->weight->data.end());
  return t;
}

}  // namespace

LowbitModel quantize_model_lowbit(const ModelWeights& source, const std::vector<std::vector<int32_t>>& windows,
                                  const LowbitScheme& scheme, const LinearProgressFn& progress, LowbitLayerStream* stream) {
  LowbitModel m;
  m.scheme = scheme;
  m.weights = std::make_shared<ModelWeights>(source);
  m.weights->runtime = {};
  const int n_layers = int(source.cfg.n_layers);
  const int first = stream ? stream->first_layer : 0;
  int64_t total = 0;
  // Check every width before the long work starts.
  const int64_t group_size = scheme.weights == LowbitWeights::Nvfp4 ? fp::kNvfp4GroupSize
                             : scheme.weights == LowbitWeights::Mxfp4 ? fp::kMxfp4GroupSize : 1;
  for (const LayerLinear& l : model_linears(*m.weights)) {
    if (l.weight->cols() % group_size != 0)
      fail("{}: {} input features are not a multiple of the {} group size {}", l.name, l.weight->cols(), scheme.name(),
           group_size);
    ++total;
  }

  CalibrationStats stats;
  calibrate(source, windows, scheme, stats);
  if (!Cluster::get().is_root()) return m;  // its windows' statistics went to rank 0, which quantizes and writes

  const bool static_acts = scheme.quantizes_activations() && scheme.acts != ActScheme::DynamicPerToken;
  if (scheme.quantizes_activations()) {
    LinearInputQuant& in = m.weights->runtime.inputs;
    in.type = scheme.weights == LowbitWeights::Int8 ? ActQuantType::Int8 : ActQuantType::Fp8;
    in.dynamic = !static_acts;
    if (static_acts) in.static_scales.assign(size_t(n_layers) * 4, 0.0f);
  }
  if (scheme.kv_fp8) set_kv_scales(m, stats.kv);

  // A layer at a time: smoothing (folded into this layer's norms and linears), then its linears.
  SmoothingFactors factors;
  int64_t done = 0;
  for (int layer = 0; layer < n_layers; ++layer) {
    const bool resumed = layer < first;  // finished by an earlier run: only its factors and scales are needed
    if (resumed && !scheme.smooth && !static_acts) continue;
    if (resumed) materialize_layer(*m.weights, layer);
    else prepare_layer(*m.weights, layer, stream);
    if (scheme.smooth) smooth_layer(*m.weights, layer, stats.ranges, {scheme.alpha, scheme.smooth_norms_only}, factors);
    if (static_acts) set_static_scales(m, stats.ranges, factors, layer);
    if (resumed) {
      release_layer(*m.weights, source, layer);
      continue;
    }
    std::vector<LayerLinear> linears = layer_linears(*m.weights, layer);
    for (const std::vector<LayerLinear*>& group : fused_groups(linears)) {
      const LinearKey& key = group.front()->key;  // one input, one importance vector
      const std::vector<float> imp = importance_of(stats, factors, key);
      const Tensor stacked = stack_rows(group);
      LowbitLinear q = quantize_lowbit_linear(stacked, scheme, imp.empty() ? nullptr : imp.data());
      if (static_acts) q.input_scale = m.weights->runtime.inputs.static_scale(key.layer, key.slot);
      int64_t r0 = 0;
      for (LayerLinear* l : group) {
        LowbitLinear part = slice_rows(q, r0, r0 + l->weight->rows());
        r0 += l->weight->rows();
        *l->weight = part.dequantize();
        m.linears.emplace(l->name, std::move(part));
        if (progress) progress(++done, total);
      }
    }
    finish_layer(m, source, layer, stream);
  }
  if (stats.collected) m.report["activation_outliers"] = outlier_report(source.cfg, stats.ranges, factors);
  if (scheme.smooth) m.report["smoothquant"] = {{"alpha", scheme.alpha}, {"smoothed_inputs", factors.size()},
                                                {"norms_only", scheme.smooth_norms_only}};
  m.report["scheme"] = scheme.name();
  return m;
}

}  // namespace llmq
