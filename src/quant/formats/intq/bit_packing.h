#pragma once
// Packing of b-bit codes into 32-bit words, in the layouts the checkpoint
// formats use.
//
// Dense little-endian bit stream: code i occupies bits [i*b, i*b + b) of the
// stream, word k holds stream bits [32k, 32k + 32), least significant first.
// For b = 2, 4, 8 this is "value j of a word at bits b*j"; for b = 3 values
// straddle words (32 values in 3 words), which is exactly the layout of
// GPTQ's 3-bit qweight, MLX's 3-bit weights and compressed-tensors' dense
// packing. AWQ's GEMM layout instead interleaves 8 4-bit codes per word.
#include <cstdint>
#include <vector>

namespace llmq {

// Words needed for n codes of `bits` bits.
inline int64_t packed_words(int64_t n, int bits) { return (n * bits + 31) / 32; }

// Packs n codes (values < 2^bits) into packed_words(n, bits) words.
void pack_stream(const uint32_t* codes, int64_t n, int bits, uint32_t* words);
void unpack_stream(const uint32_t* words, int64_t n, int bits, uint32_t* codes);

// Matrices [rows, cols] of codes, packed along one dimension:
//   along columns: out [rows, packed_words(cols)]  (MLX, compressed-tensors weight_packed)
//   along rows:    out [packed_words(rows), cols]  (GPTQ qweight/qzeros after transposing, CT zero points)
std::vector<uint32_t> pack_along_cols(const std::vector<uint32_t>& codes, int64_t rows, int64_t cols, int bits);
std::vector<uint32_t> unpack_along_cols(const uint32_t* words, int64_t rows, int64_t cols, int bits);
std::vector<uint32_t> pack_along_rows(const std::vector<uint32_t>& codes, int64_t rows, int64_t cols, int bits);
std::vector<uint32_t> unpack_along_rows(const uint32_t* words, int64_t rows, int64_t cols, int bits);

// AutoAWQ GEMM order: nibble k of a word holds column kAwqOrder[k] of each run
// of 8 consecutive columns.
inline constexpr int kAwqOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};
// codes [rows, cols] (4-bit, cols % 8 == 0) -> words [rows, cols / 8].
std::vector<uint32_t> awq_pack(const std::vector<uint32_t>& codes, int64_t rows, int64_t cols);
std::vector<uint32_t> awq_unpack(const uint32_t* words, int64_t rows, int64_t cols);

}  // namespace llmq
