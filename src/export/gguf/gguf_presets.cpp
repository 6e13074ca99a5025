#include "export/gguf/gguf_presets.h"

#include <algorithm>
#include <cctype>

#include "util/error.h"

namespace llmq {

namespace {
using ggml::GgmlType;

// file_type ids are llama_ftype values from llama.h (a file-format fact).
constexpr GgufPresetInfo kPresets[] = {
    {GgufPreset::Q2_K, "Q2_K", 10, GgmlType::Q2_K},     {GgufPreset::Q3_K_S, "Q3_K_S", 11, GgmlType::Q3_K},
    {GgufPreset::Q3_K_M, "Q3_K_M", 12, GgmlType::Q3_K}, {GgufPreset::Q3_K_L, "Q3_K_L", 13, GgmlType::Q3_K},
    {GgufPreset::Q4_0, "Q4_0", 2, GgmlType::Q4_0},      {GgufPreset::Q4_1, "Q4_1", 3, GgmlType::Q4_1},
    {GgufPreset::Q4_K_S, "Q4_K_S", 14, GgmlType::Q4_K}, {GgufPreset::Q4_K_M, "Q4_K_M", 15, GgmlType::Q4_K},
    {GgufPreset::Q5_0, "Q5_0", 8, GgmlType::Q5_0},      {GgufPreset::Q5_1, "Q5_1", 9, GgmlType::Q5_1},
    {GgufPreset::Q5_K_S, "Q5_K_S", 16, GgmlType::Q5_K}, {GgufPreset::Q5_K_M, "Q5_K_M", 17, GgmlType::Q5_K},
    {GgufPreset::Q6_K, "Q6_K", 18, GgmlType::Q6_K},     {GgufPreset::Q8_0, "Q8_0", 7, GgmlType::Q8_0},
    {GgufPreset::F16, "F16", 1, GgmlType::F16},         {GgufPreset::BF16, "BF16", 32, GgmlType::BF16},
    {GgufPreset::F32, "F32", 0, GgmlType::F32},
    {GgufPreset::IQ1_S, "IQ1_S", 24, GgmlType::IQ1_S},       {GgufPreset::IQ1_M, "IQ1_M", 31, GgmlType::IQ1_M},
    {GgufPreset::IQ2_XXS, "IQ2_XXS", 19, GgmlType::IQ2_XXS}, {GgufPreset::IQ2_XS, "IQ2_XS", 20, GgmlType::IQ2_XS},
    {GgufPreset::IQ2_S, "IQ2_S", 28, GgmlType::IQ2_XS},      {GgufPreset::IQ2_M, "IQ2_M", 29, GgmlType::IQ2_S},
    {GgufPreset::IQ3_XXS, "IQ3_XXS", 23, GgmlType::IQ3_XXS}, {GgufPreset::IQ3_XS, "IQ3_XS", 22, GgmlType::IQ3_S},
    {GgufPreset::IQ3_S, "IQ3_S", 26, GgmlType::IQ3_S},       {GgufPreset::IQ3_M, "IQ3_M", 27, GgmlType::IQ3_S},
    {GgufPreset::IQ4_NL, "IQ4_NL", 25, GgmlType::IQ4_NL},    {GgufPreset::IQ4_XS, "IQ4_XS", 30, GgmlType::IQ4_XS},
    {GgufPreset::TQ1_0, "TQ1_0", 36, GgmlType::TQ1_0},       {GgufPreset::TQ2_0, "TQ2_0", 37, GgmlType::TQ2_0},
};

std::string upper(std::string_view s) {
  std::string r(s);
  std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return char(std::toupper(c)); });
  return r;
}
}  // namespace

const GgufPresetInfo& preset_info(GgufPreset p) {
  for (const auto& info : kPresets)
    if (info.preset == p) return info;
  fail("unknown GGUF preset {}", int(p));
}

std::optional<GgufPreset> preset_from_name(std::string_view name) {
  const std::string u = upper(name);
  if (u == "TERNARY") return GgufPreset::TQ1_0;
  for (const auto& info : kPresets)
    if (u == info.name) return info.preset;
  return std::nullopt;
}

const std::vector<GgufPreset>& all_presets() {
  static const std::vector<GgufPreset> v = [] {
    std::vector<GgufPreset> r;
    for (const auto& info : kPresets) r.push_back(info.preset);
    return r;
  }();
  return v;
}

std::string preset_names() {
  std::string s;
  for (const auto& info : kPresets) s += (s.empty() ? "" : ", ") + std::string(info.name);
  return s + ", TERNARY (= TQ1_0)";
}

bool preset_is_float(GgufPreset p) { return p == GgufPreset::F16 || p == GgufPreset::BF16 || p == GgufPreset::F32; }

bool type_needs_importance(GgmlType t) {
  switch (t) {
    case GgmlType::IQ1_S: case GgmlType::IQ1_M: case GgmlType::IQ2_XXS: case GgmlType::IQ2_XS: case GgmlType::IQ2_S:
    case GgmlType::IQ3_XXS:
      return true;
    default:
      return false;
  }
}

}  // namespace llmq
