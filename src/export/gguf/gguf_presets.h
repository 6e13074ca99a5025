#pragma once
// llama-quantize's file types ("presets"): the name a user types, the
// general.file_type id written into the file (llama_ftype) and the ggml type
// most tensors get. Per-tensor deviations (attn_v, ffn_down, output, ...)
// live in gguf_type_plan.h.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "quant/formats/ggml/ggml_types.h"

namespace llmq {

enum class GgufPreset {
  Q2_K, Q3_K_S, Q3_K_M, Q3_K_L, Q4_0, Q4_1, Q4_K_S, Q4_K_M, Q5_0, Q5_1, Q5_K_S, Q5_K_M, Q6_K, Q8_0, F16, BF16, F32,
  // i-quants and ternary
  IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ2_M, IQ3_XXS, IQ3_XS, IQ3_S, IQ3_M, IQ4_NL, IQ4_XS, TQ1_0, TQ2_0,
};

struct GgufPresetInfo {
  GgufPreset preset;
  const char* name;           // as llama-quantize spells it: "Q4_K_M"
  uint32_t file_type;         // llama_ftype id stored in general.file_type
  ggml::GgmlType default_type;
};

const GgufPresetInfo& preset_info(GgufPreset p);
// Case-insensitive; std::nullopt for names we do not support. "TERNARY" is
// another name for TQ1_0.
std::optional<GgufPreset> preset_from_name(std::string_view name);
const std::vector<GgufPreset>& all_presets();
// "Q2_K, Q3_K_S, ..., TERNARY (= TQ1_0)" for help and error messages.
std::string preset_names();

// True for the float presets (F16, BF16, F32), where llama-quantize applies
// none of its mixture rules.
bool preset_is_float(GgufPreset p);

// Whether a tensor of this type needs an importance matrix to be worth
// writing: llama-quantize refuses IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S and
// IQ3_XXS without one (except for token_embd and output, which it never
// quantizes that low), as the results are garbage.
bool type_needs_importance(ggml::GgmlType t);

}  // namespace llmq
