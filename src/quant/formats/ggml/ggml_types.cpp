#include "quant/formats/ggml/ggml_types.h"

#include <algorithm>
#include <cctype>

#include "util/error.h"

namespace llmq::ggml {

namespace {
constexpr TypeTraits kTraits[] = {
    {GgmlType::F32, "f32", 1, 4},        {GgmlType::F16, "f16", 1, 2},
    {GgmlType::Q4_0, "q4_0", 32, 18},    {GgmlType::Q4_1, "q4_1", 32, 20},
    {GgmlType::Q5_0, "q5_0", 32, 22},    {GgmlType::Q5_1, "q5_1", 32, 24},
    {GgmlType::Q8_0, "q8_0", 32, 34},    {GgmlType::Q8_1, "q8_1", 32, 36},
    {GgmlType::Q2_K, "q2_K", 256, 84},   {GgmlType::Q3_K, "q3_K", 256, 110},
    {GgmlType::Q4_K, "q4_K", 256, 144},  {GgmlType::Q5_K, "q5_K", 256, 176},
    {GgmlType::Q6_K, "q6_K", 256, 210},  {GgmlType::Q8_K, "q8_K", 256, 292},
    {GgmlType::IQ2_XXS, "iq2_xxs", 256, 66}, {GgmlType::IQ2_XS, "iq2_xs", 256, 74},
    {GgmlType::IQ3_XXS, "iq3_xxs", 256, 98}, {GgmlType::IQ1_S, "iq1_s", 256, 50},
    {GgmlType::IQ4_NL, "iq4_nl", 32, 18},    {GgmlType::IQ3_S, "iq3_s", 256, 110},
    {GgmlType::IQ2_S, "iq2_s", 256, 82},     {GgmlType::IQ4_XS, "iq4_xs", 256, 136},
    {GgmlType::I8, "i8", 1, 1},   {GgmlType::I16, "i16", 1, 2}, {GgmlType::I32, "i32", 1, 4},
    {GgmlType::I64, "i64", 1, 8}, {GgmlType::F64, "f64", 1, 8},
    {GgmlType::IQ1_M, "iq1_m", 256, 56}, {GgmlType::BF16, "bf16", 1, 2},
    {GgmlType::TQ1_0, "tq1_0", 256, 54}, {GgmlType::TQ2_0, "tq2_0", 256, 66},
    {GgmlType::MXFP4, "mxfp4", 32, 17},
};

std::string lower(std::string_view s) {
  std::string r(s);
  std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return r;
}
}  // namespace

const TypeTraits* type_traits(GgmlType t) { return type_traits(uint32_t(t)); }

const TypeTraits* type_traits(uint32_t id) {
  for (const auto& tr : kTraits)
    if (uint32_t(tr.type) == id) return &tr;
  return nullptr;
}

std::optional<GgmlType> type_from_name(std::string_view name) {
  std::string l = lower(name);
  for (const auto& tr : kTraits)
    if (lower(tr.name) == l) return tr.type;
  return std::nullopt;
}

std::string type_name(GgmlType t) {
  const TypeTraits* tr = type_traits(t);
  if (!tr) return "type" + std::to_string(uint32_t(t));
  std::string s = tr->name;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::toupper(c)); });
  return s;
}

size_t row_size(GgmlType t, int64_t n) {
  const TypeTraits* tr = type_traits(t);
  if (!tr) fail("unknown ggml type id {}", uint32_t(t));
  if (n % tr->block_size != 0) fail("row of {} values is not a multiple of {}'s block size {}", n, type_name(t), tr->block_size);
  return size_t(n / tr->block_size) * tr->type_size;
}

double type_bpw(GgmlType t) {
  const TypeTraits* tr = type_traits(t);
  return double(tr->type_size) * 8.0 / double(tr->block_size);
}

}  // namespace llmq::ggml
