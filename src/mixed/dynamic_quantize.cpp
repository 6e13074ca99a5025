#include "mixed/dynamic_quantize.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "calibration/calibration_data.h"
#include "calibration/imatrix_file.h"
#include "calibration/model_fingerprint.h"
#include "mixed/hybrid_sensitivity.h"
#include "util/error.h"

namespace llmq {

namespace {

using ggml::GgmlType;

AllocationOptions allocation_options(const DynamicProfile& p, const Budget& budget) {
  AllocationOptions ao;
  ao.budget = budget;
  ao.ladder = p.ladder.empty() ? default_type_ladder() : p.ladder;
  ao.bits = p.bits;
  ao.rules = p.rules;
  ao.dynamic_experts = p.experts.dynamic;
  ao.expert_bits = p.experts.bits;
  return ao;
}

// Super weights grouped by the GGUF tensor holding them.
std::map<std::string, std::vector<SuperWeight>> super_weight_tensors(const std::string& path,
                                                                     const TensorCatalog& catalog) {
  std::map<std::string, std::vector<SuperWeight>> out;
  for (const SuperWeight& s : read_super_weights(path)) {
    const CatalogTensor* t = catalog.find(s.gguf_tensor);
    if (!t) throw file_error(path, fmt::format("super weight in {}, which the model does not have", s.gguf_tensor));
    out[s.gguf_tensor].push_back(s);
  }
  return out;
}

}  // namespace

std::string default_sensitivity_cache_path(const std::string& imatrix_path, SensitivityMode mode) {
  return imatrix_path + ".sensitivity-" + sensitivity_mode_name(mode) + ".json";
}

std::map<std::string, GgmlType> DynamicPlan::tensor_types() const {
  std::map<std::string, GgmlType> m;
  for (const TensorAllocation& t : allocation.tensors)
    if (ggml::block_size(t.type) > 1) m[t.name] = t.type;  // quantized (allocated, by rule or protected)
  return m;
}

GgufPreset preset_for_mixture(const AllocationResult& a) {
  std::map<GgmlType, uint64_t> bytes;
  for (const TensorAllocation& t : a.tensors)
    if (ggml::block_size(t.type) > 1) bytes[t.type] += t.bytes;
  GgmlType top = GgmlType::Q4_K;
  uint64_t most = 0;
  for (const auto& [t, b] : bytes)
    if (b > most) most = b, top = t;
  switch (top) {
    case GgmlType::Q4_0: return GgufPreset::Q4_0;
    case GgmlType::Q4_1: return GgufPreset::Q4_1;
    case GgmlType::Q5_0: return GgufPreset::Q5_0;
    case GgmlType::Q5_1: return GgufPreset::Q5_1;
    case GgmlType::Q8_0: return GgufPreset::Q8_0;
    case GgmlType::Q6_K: return GgufPreset::Q6_K;
    default: break;
  }
  switch (bit_class(top)) {  // k- and i-quants: the K_M preset of the bit class
    case 1: case 2: return GgufPreset::Q2_K;
    case 3: return GgufPreset::Q3_K_M;
    case 4: return GgufPreset::Q4_K_M;
    case 5: return GgufPreset::Q5_K_M;
    default: return GgufPreset::Q6_K;
  }
}

SensitivityMode resolve_sensitivity_mode(const DynamicProfile& p, const std::string& model_dir,
                                         const std::string& sensitivity_data) {
  if (p.sensitivity) return *p.sensitivity;
  return !sensitivity_data.empty() || default_calibration_path(model_dir) ? SensitivityMode::Hybrid
                                                                           : SensitivityMode::Fast;
}

DynamicPlan plan_dynamic(const TensorCatalog& catalog, const DynamicQuantOptions& opt) {
  const DynamicProfile& p = opt.profile;
  DynamicPlan plan;
  if (!p.tensor_types.empty()) {  // a resolved profile: its types as they are
    for (const CatalogTensor& t : catalog.tensors())  // a profile of another model misses some of ours
      if (t.quantizable && !p.tensor_types.count(t.spec.name))
        throw file_error(p.source.empty() ? "profile " + p.name : p.source,
                         fmt::format("gives no type for tensor {} of this model (was it made for another model?)",
                                     t.spec.name));
    plan.resolved_profile = true;
    plan.allocation = describe_allocation(catalog, p.tensor_types, "profile " + p.name);
    return plan;
  }
  const std::optional<Budget> budget = p.budget();
  if (!budget) fail("no budget: give --target-bpw or --target-size (or a profile with a target)");
  if (opt.imatrix_path.empty())
    fail("dynamic quantization needs an importance matrix: run `llm-quantize analyze MODEL -o FILE.imatrix` and "
         "pass --imatrix FILE.imatrix");
  const ImatrixFile imatrix = open_imatrix_for_model(opt.imatrix_path, catalog.model_dir(), catalog.config().n_experts);
  const ImportanceLookup importance = [&imatrix](const std::string& name, int expert) {
    return imatrix.importance(name, expert);
  };

  AllocationOptions ao = allocation_options(p, *budget);
  const bool moe = catalog.config().n_experts > 1;
  if (ao.dynamic_experts && moe) ao.routing = routing_counts_from_imatrix(imatrix, catalog.config(), opt.imatrix_path);

  // Super-weight protection: the tensors holding them are pinned.
  std::map<std::string, std::vector<SuperWeight>> protect;
  if (p.protect_super_weights) {
    plan.super_weights_file = opt.super_weights_path.empty() ? super_weights_path_for(opt.imatrix_path) : opt.super_weights_path;
    protect = super_weight_tensors(plan.super_weights_file, catalog);
  }
  AllocationOptions pinned = ao;
  for (const auto& [name, sws] : protect)
    pinned.pinned[name] = {p.super_weight_type,
                           fmt::format("super weight{} (layer {}, row {}, col {})", sws.size() > 1 ? "s" : "",
                                       sws.front().layer, sws.front().row, sws.front().col)};
  const std::vector<TensorCandidates> free_cands = plan_candidates(catalog, ao);
  const std::vector<TensorCandidates> cands = protect.empty() ? free_cands : plan_candidates(catalog, pinned);
  check_budget(catalog, cands, *budget);  // before spending time on measurements

  // Measure every candidate (and the protected type of protected tensors, to price the protection).
  std::vector<SensitivityRequest> requests;
  for (const TensorCandidates& c : free_cands) {
    if (c.fixed) continue;
    SensitivityRequest rq{c.name, c.types};
    if (auto it = protect.find(c.name); it != protect.end() &&
        std::find(rq.types.begin(), rq.types.end(), p.super_weight_type) == rq.types.end())
      rq.types.push_back(p.super_weight_type);
    requests.push_back(std::move(rq));
  }
  const SensitivityMode mode = resolve_sensitivity_mode(p, catalog.model_dir(), opt.sensitivity_data);
  plan.sensitivity_mode = mode;
  SensitivityRunOptions so;
  so.mode = mode;
  so.imatrix_path = opt.imatrix_path;
  so.importance = importance;
  so.kld = opt.kld;
  so.progress = opt.progress;
  if (mode != SensitivityMode::Fast) {
    so.data_path = opt.sensitivity_data;
    if (so.data_path.empty()) {
      const auto d = default_calibration_path(catalog.model_dir());
      if (!d) fail("{} sensitivity needs calibration text: pass --sensitivity-data FILE", sensitivity_mode_name(mode));
      so.data_path = *d;
    }
  }
  // One cache per measure; hybrid mode reads and extends the fast and the accurate one.
  auto cache_for = [&](SensitivityMode m) -> std::string {
    if (opt.no_sensitivity_cache) return "";
    if (opt.sensitivity_cache.empty()) return default_sensitivity_cache_path(opt.imatrix_path, m);
    return m == mode ? opt.sensitivity_cache : opt.sensitivity_cache + "." + sensitivity_mode_name(m);
  };
  if (mode == SensitivityMode::Hybrid) {
    SensitivityRunOptions fo = so, ko = so;
    fo.mode = SensitivityMode::Fast;
    fo.cache_path = cache_for(SensitivityMode::Fast);
    ko.mode = SensitivityMode::Accurate;
    ko.cache_path = cache_for(SensitivityMode::Accurate);
    plan.sensitivity_cache = fo.cache_path.empty() ? "" : fo.cache_path + " + " + ko.cache_path;
    plan.sensitivity = measure_hybrid(catalog, requests, fo, ko);
  } else {
    so.cache_path = cache_for(mode);
    plan.sensitivity_cache = so.cache_path;
    plan.sensitivity = measure_sensitivities(catalog, requests, so);
  }
  const SensitivityTable& table = plan.sensitivity->table;

  plan.allocation = allocate_types(catalog, cands, table, pinned);
  if (protect.empty()) {
    plan.preset_check = check_presets(catalog, cands, table, pinned, plan.allocation);
    if (plan.preset_check->adopted) plan.allocation = plan.preset_check->allocation;
  }

  if (!protect.empty()) {
    const AllocationResult free_alloc = allocate_types(catalog, free_cands, table, ao);
    double protected_sens = plan.allocation.sensitivity;
    for (const auto& [name, sws] : protect) {
      ProtectedTensor pt;
      pt.name = name;
      pt.type = p.super_weight_type;
      pt.weights = sws;
      for (const TensorAllocation& t : free_alloc.tensors)
        if (t.name == name) {
          pt.unprotected_type = t.type;
          pt.extra_bytes = int64_t(tensor_data_bytes(catalog.find(name)->spec, pt.type)) - int64_t(t.bytes);
        }
      if (auto v = allocation_sensitivity(table, catalog, ao, name, pt.type)) protected_sens += *v;
      plan.protected_tensors.push_back(std::move(pt));
    }
    plan.protection_sensitivity_cost = protected_sens - free_alloc.sensitivity;
  }

  if (ao.dynamic_experts && moe) {
    int64_t row = INT64_MAX;
    for (const CatalogTensor& t : catalog.tensors())
      if (t.spec.is_stacked()) row = std::min(row, t.spec.row_length());
    ExpertTierOptions eo;
    eo.bits = p.experts.bits;
    eo.hot_fraction = p.experts.hot_fraction;
    plan.expert_tiers = plan_expert_tiers(ao.routing, ao.ladder, row, eo);
  }
  return plan;
}

}  // namespace llmq
