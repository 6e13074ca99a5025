#include "mixed/type_ladder.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "quant/formats/ggml/ggml_quants.h"
#include "util/error.h"

namespace llmq {

using ggml::GgmlType;

std::vector<GgmlType> default_type_ladder() {
  static const GgmlType kLadder[] = {
      GgmlType::IQ1_M,  GgmlType::IQ2_XXS, GgmlType::IQ2_XS, GgmlType::IQ2_S, GgmlType::Q2_K,
      GgmlType::IQ3_XXS, GgmlType::IQ3_S,  GgmlType::Q3_K,   GgmlType::IQ4_XS, GgmlType::Q4_K,
      GgmlType::Q5_K,   GgmlType::Q6_K,    GgmlType::Q8_0,
  };
  std::vector<GgmlType> out;
  for (GgmlType t : kLadder)
    if (ggml::can_quantize(t)) out.push_back(t);
  std::stable_sort(out.begin(), out.end(), [](GgmlType a, GgmlType b) { return ggml::type_bpw(a) < ggml::type_bpw(b); });
  return out;
}

std::vector<GgmlType> parse_type_list(const std::string& list, const std::string& option) {
  std::vector<GgmlType> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (item.empty()) continue;
    const auto t = ggml::type_from_name(item);
    if (!t || ggml::block_size(*t) == 1 || !ggml::can_quantize(*t))
      fail("{}: '{}' is not a quantized ggml type we can write", option, item);
    if (std::find(out.begin(), out.end(), *t) == out.end()) out.push_back(*t);
  }
  if (out.empty()) fail("{}: no types given", option);
  std::stable_sort(out.begin(), out.end(), [](GgmlType a, GgmlType b) { return ggml::type_bpw(a) < ggml::type_bpw(b); });
  return out;
}

int bit_class(GgmlType t) { return int(std::floor(ggml::type_bpw(t))); }

BitRange BitRange::intersect(const BitRange& o) const {
  return {std::max(min_bits, o.min_bits), std::min(max_bits, o.max_bits)};
}

std::vector<GgmlType> fitting_types(const std::vector<GgmlType>& ladder, int64_t row_length, const BitRange& range) {
  std::vector<GgmlType> out;
  for (GgmlType t : ladder)
    if (row_length % ggml::block_size(t) == 0 && range.admits(t)) out.push_back(t);
  return out;
}

std::string type_list_string(const std::vector<GgmlType>& types) {
  std::string s;
  for (GgmlType t : types) s += (s.empty() ? "" : " ") + ggml::type_name(t);
  return s;
}

}  // namespace llmq
