#pragma once
// The candidate ggml types of dynamic mixed precision ("the ladder") and the
// bit-class bounds that narrow it (--min-bits / --max-bits, profile rules,
// --expert-min-bits / --expert-max-bits).
//
// The default ladder is every type of the list below that our codecs can
// write at run time (ggml::can_quantize), so i-quants join the ladder as
// soon as their codecs exist. A type's bit class is the integer part of its
// bits per weight (Q2_K 2.625 -> 2, IQ4_XS 4.25 -> 4, Q8_0 8.5 -> 8), so
// "--max-bits 8" admits Q8_0 and "--min-bits 2" admits Q2_K and IQ2_XXS.
#include <cstdint>
#include <string>
#include <vector>

#include "quant/formats/ggml/ggml_types.h"

namespace llmq {

// IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, Q2_K, IQ3_XXS, IQ3_S, Q3_K, IQ4_XS, Q4_K,
// Q5_K, Q6_K, Q8_0, those we can write, in increasing bits per weight.
std::vector<ggml::GgmlType> default_type_ladder();

// Parses "Q4_K,Q6_K,IQ4_XS" (case-insensitive). Throws llmq::Error naming
// `option` for an unknown type or one we cannot write.
std::vector<ggml::GgmlType> parse_type_list(const std::string& list, const std::string& option);

int bit_class(ggml::GgmlType t);

struct BitRange {
  double min_bits = 0, max_bits = 1e9;
  bool admits(ggml::GgmlType t) const { return bit_class(t) >= min_bits && bit_class(t) <= max_bits; }
  BitRange intersect(const BitRange& o) const;
};

// Types of `ladder` a tensor with rows of `row_length` values can be stored
// in (whole blocks) and that `range` admits, in the ladder's order.
std::vector<ggml::GgmlType> fitting_types(const std::vector<ggml::GgmlType>& ladder, int64_t row_length,
                                          const BitRange& range);

// "Q2_K Q3_K Q4_K" for messages.
std::string type_list_string(const std::vector<ggml::GgmlType>& types);

}  // namespace llmq
