#include "mixed/preset_check.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "export/gguf/gguf_tensor_layout.h"
#include "export/gguf/gguf_type_plan.h"
#include "quant/formats/ggml/ggml_quants.h"
#include "util/error.h"

namespace llmq {

namespace {

constexpr GgufPreset kPresets[] = {GgufPreset::Q2_K,   GgufPreset::Q3_K_S, GgufPreset::Q3_K_M,
                                   GgufPreset::Q3_K_L, GgufPreset::Q4_K_S, GgufPreset::Q4_K_M,
                                   GgufPreset::Q5_K_S, GgufPreset::Q5_K_M, GgufPreset::Q6_K};

// The preset's type per GGUF tensor name, as the exporter would choose it.
std::map<std::string, ggml::GgmlType> preset_types(const TensorCatalog& catalog, GgufPreset preset) {
  const std::vector<GgufTensorSpec> layout = gguf_tensor_layout(catalog.config());
  GgufQuantOptions q;
  q.preset = preset;
  const std::vector<TensorTypeChoice> plan = plan_tensor_types(catalog.config(), layout, q);
  std::map<std::string, ggml::GgmlType> types;
  for (size_t i = 0; i < layout.size(); ++i) types[layout[i].name] = plan[i].type;
  return types;
}

}  // namespace

PresetCheck check_presets(const TensorCatalog& catalog, const std::vector<TensorCandidates>& candidates,
                          const SensitivityTable& table, const AllocationOptions& opt, const AllocationResult& ours) {
  PresetCheck check;
  for (GgufPreset preset : kPresets) {
    PresetScore s;
    s.preset = preset;
    const std::map<std::string, ggml::GgmlType> types = preset_types(catalog, preset);
    // The preset as an assignment of our problem: one candidate per allocated tensor.
    std::vector<TensorCandidates> fixed = candidates;
    for (TensorCandidates& c : fixed) {
      if (c.fixed || !s.why_not.empty()) continue;
      const auto t = types.find(c.name);
      if (t == types.end() || std::find(c.types.begin(), c.types.end(), t->second) == c.types.end()) {
        s.why_not = fmt::format("{} would be {}, not a candidate", c.name,
                                t == types.end() ? "absent" : ggml::type_name(t->second));
        continue;
      }
      if (!allocation_sensitivity(table, catalog, opt, c.name, t->second)) {
        s.why_not = fmt::format("{} is not measured at {}", c.name, ggml::type_name(t->second));
        continue;
      }
      c.types = {t->second};
    }
    if (s.why_not.empty()) {
      AllocationResult r;
      try {
        r = allocate_types(catalog, fixed, table, opt);
      } catch (const Error& e) {  // larger than the budget, or a type the allocation cannot hold
        s.why_not = e.what();
      }
      if (s.why_not.empty()) {
        s.file_bytes = r.file_bytes;
        s.sensitivity = r.sensitivity;
        if (r.file_bytes > ours.file_bytes) {
          s.why_not = "larger than the allocation";
        } else {
          s.comparable = true;
          const double best = check.adopted ? check.allocation.sensitivity : ours.sensitivity;
          if (r.sensitivity < best) {
            check.adopted = preset;
            check.allocation = std::move(r);
          }
        }
      }
    }
    check.scores.push_back(std::move(s));
  }
  return check;
}

}  // namespace llmq
