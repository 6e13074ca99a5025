#pragma once
// Dynamic quantization profiles (.dqprofile): a named, reusable recipe of a
// budget, the candidate types, per-tensor rules, MoE expert settings and
// super-weight protection; optionally the resolved type of every tensor for
// one model (written by `profile create --model`). JSON, documented in
// docs/dynamic_quantization.md.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mixed/bit_allocation.h"
#include "mixed/sensitivity.h"
#include "mixed/tensor_catalog.h"

namespace llmq {

struct ExpertSettings {
  bool dynamic = false;
  BitRange bits{2, 8};
  double hot_fraction = 0.10;
};

struct DynamicProfile {
  std::string name, description;
  std::string source;  // the file it was read from (errors name it); empty for built-ins
  std::optional<double> target_bpw;
  std::optional<uint64_t> target_bytes;  // whole GGUF file
  // Unset: hybrid when calibration text is found, else fast (resolve_sensitivity_mode).
  std::optional<SensitivityMode> sensitivity;
  BitRange bits;
  std::vector<ggml::GgmlType> ladder;    // empty: the default ladder
  std::vector<TypeRule> rules;
  ExpertSettings experts;
  bool protect_super_weights = false;
  ggml::GgmlType super_weight_type = ggml::GgmlType::Q8_0;
  std::string imatrix;                   // importance matrix the profile was made with
  std::map<std::string, ggml::GgmlType> tensor_types;  // resolved allocation (GGUF name -> type)

  std::optional<Budget> budget() const;  // from target_bpw / target_bytes
};

inline constexpr const char* kProfileExtension = ".dqprofile";

// Throws llmq::Error naming `source` on any problem (unknown key, bad type
// name, bad regex, no target and no tensor types, ...).
DynamicProfile profile_from_json(const nlohmann::json& j, const std::string& source);
nlohmann::json profile_to_json(const DynamicProfile& p);

// attention-high, balanced (the default), compression-max.
const std::vector<DynamicProfile>& builtin_profiles();
inline constexpr const char* kDefaultProfile = "balanced";

// A built-in name, else a .dqprofile file. Throws llmq::Error naming it.
DynamicProfile load_profile(const std::string& name_or_path);
void write_profile(const DynamicProfile& p, const std::string& path);  // atomic

struct ProfileCheck {
  std::vector<std::string> problems;  // each makes the profile unusable for the model
  std::vector<std::string> notes;     // harmless observations
  bool ok() const { return problems.empty(); }
};

// Checks every rule, resolved tensor type, the budget and the recorded
// importance matrix against the model's tensors.
ProfileCheck validate_profile(const DynamicProfile& p, const TensorCatalog& catalog);


}  // namespace llmq
