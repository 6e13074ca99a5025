#pragma once
// ggml tensor types: the numeric ids stored in GGUF files and the block
// geometry of each (values per block, bytes per block). The ids and sizes
// are part of the file format and must match ggml exactly.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llmq::ggml {

enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
  I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

struct TypeTraits {
  GgmlType type;
  const char* name;     // ggml's spelling, e.g. "q4_K"
  int64_t block_size;   // values per block
  size_t type_size;     // bytes per block
};

// nullptr for ids ggml does not define (or we do not know).
const TypeTraits* type_traits(GgmlType t);
const TypeTraits* type_traits(uint32_t id);
std::optional<GgmlType> type_from_name(std::string_view name);  // case-insensitive: "Q4_K", "q4_k", "f16"
std::string type_name(GgmlType t);                               // upper case, e.g. "Q4_K"

// Bytes of one row of n values; throws llmq::Error if n is not a multiple of the block size.
size_t row_size(GgmlType t, int64_t n);
inline int64_t block_size(GgmlType t) { return type_traits(t)->block_size; }
// Bits per weight of the type itself (type_size*8/block_size).
double type_bpw(GgmlType t);

}  // namespace llmq::ggml
