#pragma once
// The dynamic mixed-precision workflow up to the type plan: candidates from
// the profile, super-weight protection, sensitivity measurement (cached),
// the exact allocation, MoE expert tiers. The GGUF exporter then writes the
// planned types (GgufQuantOptions::tensor_type_by_name).
//
//   TensorCatalog catalog("path/to/hf-model");
//   DynamicQuantOptions o;
//   o.profile = load_profile("balanced");
//   o.imatrix_path = "model.imatrix";
//   DynamicPlan plan = plan_dynamic(catalog, o);
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "calibration/super_weights.h"
#include "export/gguf/gguf_presets.h"
#include "mixed/bit_allocation.h"
#include "mixed/expert_plan.h"
#include "mixed/preset_check.h"
#include "mixed/profile.h"
#include "mixed/sensitivity_runner.h"
#include "mixed/tensor_catalog.h"

namespace llmq {

struct DynamicQuantOptions {
  DynamicProfile profile;          // settings, with any command-line overrides applied
  std::string imatrix_path;        // required unless the profile resolves every tensor
  std::string sensitivity_cache;   // "" = <imatrix>.sensitivity-<mode>.json (hybrid: the fast and accurate ones;
                                   // a given path names the mode's cache, others get ".<mode>" appended)
  bool no_sensitivity_cache = false;
  std::string sensitivity_data;    // accurate/hybrid: calibration text ("" = the default calibration text)
  KldMeterOptions kld;
  std::string super_weights_path;  // "" = <imatrix>.superweights.json (written by analyze --identify-super-weights)
  std::function<void(size_t, size_t, const std::string&)> progress;  // per measured tensor
};

struct ProtectedTensor {
  std::string name;
  ggml::GgmlType type = ggml::GgmlType::Q8_0;              // kept at
  ggml::GgmlType unprotected_type = ggml::GgmlType::Q8_0;  // what the allocation gave it without protection
  int64_t extra_bytes = 0;                                 // type's bytes minus the unprotected type's
  std::vector<SuperWeight> weights;                        // the super weights it holds
};

struct DynamicPlan {
  AllocationResult allocation;
  SensitivityMode sensitivity_mode = SensitivityMode::Fast;  // the measure the allocation used
  bool resolved_profile = false;                 // types taken from the profile as they are
  std::optional<SensitivityRun> sensitivity;
  std::string sensitivity_cache;                 // where the measurements are kept ("" = nowhere)
  std::vector<LayerExpertPlan> expert_tiers;     // --dynamic-experts on an MoE model
  std::vector<ProtectedTensor> protected_tensors;
  std::string super_weights_file;
  double protection_sensitivity_cost = 0;        // summed sensitivity with protection minus without
  // llama.cpp's k-quant presets scored on the same measure (not with
  // super-weight protection); when one fit and scored lower, its types are
  // the allocation (preset_check->adopted).
  std::optional<PresetCheck> preset_check;

  std::map<std::string, ggml::GgmlType> tensor_types() const;  // quantized tensors -> type
};

// The profile's measure, or when it names none: hybrid (KL of the logits at
// two types per tensor) where calibration text is found (`sensitivity_data`,
// else the default calibration text), fast (weight error) otherwise. Hybrid
// is the default because fast alone loses to llama.cpp's presets of the same
// size (docs/dynamic_quantization.md).
SensitivityMode resolve_sensitivity_mode(const DynamicProfile& p, const std::string& model_dir,
                                         const std::string& sensitivity_data);

// Throws llmq::Error for missing inputs (importance matrix, super-weight
// list), an infeasible budget, or profile rules that do not fit the model.
DynamicPlan plan_dynamic(const TensorCatalog& catalog, const DynamicQuantOptions& opt);

// The llama-quantize file type written as general.file_type for a mixture:
// the preset of the type holding most bytes (informational for llama.cpp).
GgufPreset preset_for_mixture(const AllocationResult& a);

// <imatrix>.sensitivity-<mode>.json
std::string default_sensitivity_cache_path(const std::string& imatrix_path, SensitivityMode mode);

}  // namespace llmq
