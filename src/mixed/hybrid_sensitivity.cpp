#include "mixed/hybrid_sensitivity.h"

#include <algorithm>
#include <cmath>

namespace llmq {

using ggml::GgmlType;

std::vector<GgmlType> hybrid_reference_types(const std::vector<GgmlType>& candidates) {
  std::vector<GgmlType> refs;
  for (double target : {2.6, 4.5}) {
    if (candidates.empty()) break;
    GgmlType best = candidates.front();
    for (GgmlType t : candidates)
      if (std::abs(ggml::type_bpw(t) - target) < std::abs(ggml::type_bpw(best) - target)) best = t;
    if (std::find(refs.begin(), refs.end(), best) == refs.end()) refs.push_back(best);
  }
  return refs;
}

TensorSensitivity fit_hybrid(const TensorSensitivity& fast, const TensorSensitivity& kl) {
  // Reference points (log e, log KL) where both are positive.
  std::vector<std::pair<double, double>> pts;
  for (const auto& [t, k] : kl) {
    auto f = fast.find(t);
    if (f != fast.end() && f->second.value > 0 && k.value > 0) pts.emplace_back(std::log(f->second.value), std::log(k.value));
  }
  double b = 1.0;
  if (pts.size() >= 2 && pts[0].first != pts[1].first)
    b = std::clamp((pts[0].second - pts[1].second) / (pts[0].first - pts[1].first), 0.5, 2.0);
  double log_a = 0;
  for (const auto& [le, lk] : pts) log_a += (lk - b * le) / double(pts.size());

  TensorSensitivity out;
  for (const auto& [t, f] : fast) {
    TypeSensitivity s;
    if (auto k = kl.find(t); k != kl.end()) s.value = k->second.value;
    else if (pts.empty()) s.value = f.value;  // nothing to scale by: the fast value
    else s.value = f.value > 0 ? std::exp(log_a + b * std::log(f.value)) : 0.0;
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
