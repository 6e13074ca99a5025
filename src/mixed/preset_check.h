#pragma once
// llama.cpp's presets as points of the allocation problem. A dynamic file is
// meant to be at least as good as the preset of the same size; on the
// allocator's own measure a preset whose every type is a candidate of its
// tensor is a feasible assignment, so an exact allocation never scores worse,
// but a near-optimal one (coarse cost units) or a tiny budget margin can. The
// check scores each preset that fits and keeps the better of the two.
#include <optional>
#include <string>
#include <vector>

#include "export/gguf/gguf_presets.h"
#include "mixed/bit_allocation.h"
#include "mixed/sensitivity.h"
#include "mixed/tensor_catalog.h"

namespace llmq {

struct PresetScore {
  GgufPreset preset = GgufPreset::Q4_K_M;
  bool comparable = false;  // every type a candidate, no larger than the allocation, measured
  std::string why_not;      // when not comparable
  uint64_t file_bytes = 0;
  double sensitivity = 0;
};

struct PresetCheck {
  std::vector<PresetScore> scores;      // every k-quant preset, in order
  std::optional<GgufPreset> adopted;    // set when a preset beat the allocation (then `allocation` is its)
  AllocationResult allocation;          // the preset's, when adopted
};

// Scores Q2_K ... Q6_K on `table` against `ours`.
PresetCheck check_presets(const TensorCatalog& catalog, const std::vector<TensorCandidates>& candidates,
                          const SensitivityTable& table, const AllocationOptions& opt, const AllocationResult& ours);

}  // namespace llmq
