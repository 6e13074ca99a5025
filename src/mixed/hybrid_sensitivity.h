#pragma once
// Hybrid sensitivity (see sensitivity.h): per tensor, the KL divergence is
// measured at two reference types and every other type is placed on the
// power law KL = a * e^b through those two points, e being the fast
// measure (importance-weighted relative error) of the type. For small
// errors KL grows in proportion to the noise added to the logits, so b is
// near 1; fitting b as well follows the faster growth at 1-2 bits. On
// tiny-llama the fast measure with the scale set at one type predicts the
// measured KL to 8% (median) per type, while the scale itself differs by 280x
// between tensors: what the fast measure alone cannot know.
//
// Both halves come from (and are saved in) the fast and accurate caches, so a
// hybrid run reuses an earlier fast run's work and a later accurate run
// reuses the hybrid run's forward passes.
#include <vector>

#include "mixed/sensitivity.h"
#include "mixed/sensitivity_runner.h"

namespace llmq {

// The reference candidates among options of these bits per weight: the
// indices of those nearest 2.6 and 4.5 bpw (the low end of the usual budgets
// and the width whose quality it is usually compared with); one index when
// they coincide. Shared by the GGUF types and the Hugging Face widths.
std::vector<size_t> hybrid_reference_indices(const std::vector<double>& bpw);

// The reference types for a tensor's candidates (hybrid_reference_indices).
std::vector<ggml::GgmlType> hybrid_reference_types(const std::vector<ggml::GgmlType>& candidates);

// KL = a * e^b through reference points (e, KL), both positive: b from the
// first two (clamped to 0.5 .. 2), 1 with one point; a by least squares in
// log space. Without points, at() returns e unchanged.
struct PowerLaw {
  double log_a = 0, b = 1;
  bool fitted = false;
  double at(double e) const;
};
PowerLaw fit_power_law(const std::vector<std::pair<double, double>>& points);

// Places every fast-measured type of one tensor on the power law through the
// KL values measured at the references (measured values are kept as they are).
TensorSensitivity fit_hybrid(const TensorSensitivity& fast, const TensorSensitivity& kl);

// Fast mode over every requested type (cache `fast.cache_path`), accurate
// mode at the reference types (cache `accurate.cache_path`), combined.
SensitivityRun measure_hybrid(const TensorCatalog& catalog, const std::vector<SensitivityRequest>& requests,
                              const SensitivityRunOptions& fast, const SensitivityRunOptions& accurate);

}  // namespace llmq
