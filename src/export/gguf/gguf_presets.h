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
};

struct GgufPresetInfo {
  GgufPreset preset;
  const char* name;           // as llama-quantize spells it: "Q4_K_M"
  uint32_t file_type;         // llama_ftype id stored in general.file_type
  ggml::GgmlType default_type;
};

const GgufPresetInfo& preset_info(GgufPreset p);
// Case-insensitive; std::nullopt for names we do not support.
std::optional<GgufPreset> preset_from_name(std::string_view name);
const std::vector<GgufPreset>& all_presets();
// "Q2_K, Q3_K_S, ..." for help and error messages.
std::string preset_names();

// True for the float presets (F16, BF16, F32), where llama-quantize applies
// none of its mixture rules.
bool preset_is_float(GgufPreset p);

}  // namespace llmq
