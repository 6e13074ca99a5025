#include "mixed/hybrid_sensitivity.h"

#include <algorithm>
#include <cmath>

namespace llmq {

using ggml::GgmlType;

std::vector<size_t> hybrid_reference_indices(const std::vector<double>& bpw) {
  std::vector<size_t> refs;
  for (double target : {2.6, 4.5}) {
    if (bpw.empty()) break;
    size_t best = 0;
    for (size_t i = 1; i < bpw.size(); ++i)
      if (std::abs(bpw[i] - target) < std::abs(bpw[best] - target)) best = i;
    if (std::find(refs.begin(), refs.end(), best) == refs.end()) refs.push_back(best);
  }
  return refs;
}

std::vector<GgmlType> hybrid_reference_types(const std::vector<GgmlType>& candidates) {
  std::vector<double> bpw;
  for (GgmlType t : candidates) bpw.push_back(ggml::type_bpw(t));
  std::vector<GgmlType> refs;
  for (size_t i : hybrid_reference_indices(bpw)) refs.push_back(candidates[i]);
  return refs;
}

double PowerLaw::at(double e) const {
  if (!fitted) return e;  // nothing to scale by: the fast value
  return e > 0 ? std::exp(log_a + b * std::log(e)) : 0.0;
}

PowerLaw fit_power_law(const std::vector<std::pair<double, double>>& points) {
  std::vector<std::pair<double, double>> pts;  // (log e, log KL)
  for (const auto& [e, k] : points)
    if (e > 0 && k > 0) pts.emplace_back(std::log(e), std::log(k));
  PowerLaw p;
  if (pts.empty()) return p;
  p.fitted = true;
  if (pts.size() >= 2 && pts[0].first != pts[1].first)
    p.b = std::clamp((pts[0].second - pts[1].second) / (pts[0].first - pts[1].first), 0.5, 2.0);
  p.log_a = 0;
  for (const auto& [le, lk] : pts) p.log_a += (lk - p.b * le) / double(pts.size());
  return p;
}

TensorSensitivity fit_hybrid(const TensorSensitivity& fast, const TensorSensitivity& kl) {
  std::vector<std::pair<double, double>> points;
  for (const auto& [t, k] : kl)
    if (auto f = fast.find(t); f != fast.end()) points.emplace_back(f->second.value, k.value);
  const PowerLaw law = fit_power_law(points);
  TensorSensitivity out;
  for (const auto& [t, f] : fast) {
    TypeSensitivity s;
    if (auto k = kl.find(t); k != kl.end()) s.value = k->second.value;
    else s.value = law.at(f.value);
    out[t] = s;
  }
  return out;
}

SensitivityRun measure_hybrid(const TensorCatalog& catalog, const std::vector<SensitivityRequest>& requests,
                              const SensitivityRunOptions& fast, const SensitivityRunOptions& accurate) {
  SensitivityRunOptions fo = fast, ao = accurate;
  fo.mode = SensitivityMode::Fast;
  ao.mode = SensitivityMode::Accurate;
  const SensitivityRun f = measure_sensitivities(catalog, requests, fo);

  std::vector<SensitivityRequest> refs;
  for (const SensitivityRequest& rq : requests) {
    std::vector<GgmlType> measured;
    for (GgmlType t : rq.types)
      if (f.table.find(rq.name, t)) measured.push_back(t);
    refs.push_back({rq.name, hybrid_reference_types(measured)});
  }
  const SensitivityRun k = measure_sensitivities(catalog, refs, ao);

  SensitivityRun out;
  out.table.mode = SensitivityMode::Hybrid;
  out.table.fingerprint = {{"fast", f.table.fingerprint}, {"accurate", k.table.fingerprint}};
  out.table.refused = f.table.refused;
  for (const auto& [name, by_type] : k.table.refused)
    for (const auto& [t, why] : by_type) out.table.refused[name][t] = why;
  for (size_t i = 0; i < requests.size(); ++i) {
    auto fi = f.table.tensors.find(requests[i].name);
    if (fi == f.table.tensors.end()) continue;
    TensorSensitivity kl;  // the references only, even where the cache holds more
    for (GgmlType t : refs[i].types)
      if (const TypeSensitivity* v = k.table.find(requests[i].name, t)) kl[t] = *v;
    out.table.tensors[requests[i].name] = fit_hybrid(fi->second, kl);
  }
  out.measured = f.measured + k.measured;
  out.reused = f.reused + k.reused;
  out.seconds = f.seconds + k.seconds;
  out.cache_note = f.cache_note.empty() ? k.cache_note : f.cache_note;
  return out;
}

}  // namespace llmq
