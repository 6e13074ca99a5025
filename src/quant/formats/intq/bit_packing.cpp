#include "quant/formats/intq/bit_packing.h"

#include <algorithm>

#include "util/error.h"

namespace llmq {

void pack_stream(const uint32_t* codes, int64_t n, int bits, uint32_t* words) {
  const int64_t nw = packed_words(n, bits);
  std::fill(words, words + nw, 0u);
  const uint32_t mask = (1u << bits) - 1u;
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t v = codes[i] & mask;
    const int64_t bit = i * bits;
    const int64_t w = bit / 32;
    const int shift = int(bit % 32);
    words[w] |= uint32_t(v << shift);
    if (shift + bits > 32) words[w + 1] |= uint32_t(v >> (32 - shift));  // the part that straddles into the next word
  }
}

void unpack_stream(const uint32_t* words, int64_t n, int bits, uint32_t* codes) {
  const uint32_t mask = (1u << bits) - 1u;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t bit = i * bits;
    const int64_t w = bit / 32;
    const int shift = int(bit % 32);
    uint64_t v = words[w] >> shift;
    if (shift + bits > 32) v |= uint64_t(words[w + 1]) << (32 - shift);
    codes[i] = uint32_t(v) & mask;
  }
}

std::vector<uint32_t> pack_along_cols(const std::vector<uint32_t>& codes, int64_t rows, int64_t cols, int bits) {
  const int64_t nw = packed_words(cols, bits);
  std::vector<uint32_t> out(size_t(rows * nw));
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t r = 0; r < rows; ++r) pack_stream(codes.data() + r * cols, cols, bits, out.data() + r * nw);
  return out;
}

std::vector<uint32_t> unpack_along_cols(const uint32_t* words, int64_t rows, int64_t cols, int bits) {
  const int64_t nw = packed_words(cols, bits);
  std::vector<uint32_t> out(size_t(rows * cols));
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t r = 0; r < rows; ++r) unpack_stream(words + r * nw, cols, bits, out.data() + r * cols);
  return out;
}

// Packing along rows is packing along columns of the transpose.
static std::vector<uint32_t> transpose(const uint32_t* a, int64_t rows, int64_t cols) {
  std::vector<uint32_t> t(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t[size_t(c * rows + r)] = a[r * cols + c];
  return t;
}

std::vector<uint32_t> pack_along_rows(const std::vector<uint32_t>& codes, int64_t rows, int64_t cols, int bits) {
  const std::vector<uint32_t> t = transpose(codes.data(), rows, cols);
  const std::vector<uint32_t> packed = pack_along_cols(t, cols, rows, bits);
  return transpose(packed.data(), cols, packed_words(rows, bits));
}

std::vector<uint32_t> unpack_along_rows(const uint32_t* words, int64_t rows, int64_t cols, int bits) {
  const int64_t nw = packed_words(rows, bits);
  const std::vector<uint32_t> t = transpose(words, nw, cols);
  const std::vector<uint32_t> codes_t = unpack_along_cols(t.data(), cols, rows, bits);
  return transpose(codes_t.data(), cols, rows);
}

std::vector<uint32_t> awq_pack(const std::vector<uint32_t>& codes, int64_t rows, int64_t cols) {
  if (cols % 8 != 0) fail("AWQ packing needs a multiple of 8 output features, got {}", cols);
  std::vector<uint32_t> out(size_t(rows * cols / 8), 0u);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t w = 0; w < cols / 8; ++w) {
      uint32_t word = 0;
      for (int k = 0; k < 8; ++k) word |= (codes[size_t(r * cols + w * 8 + kAwqOrder[k])] & 0xFu) << (4 * k);
      out[size_t(r * (cols / 8) + w)] = word;
    }
  return out;
}

std::vector<uint32_t> awq_unpack(const uint32_t* words, int64_t rows, int64_t cols) {
  std::vector<uint32_t> out(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t w = 0; w < cols / 8; ++w) {
      const uint32_t word = words[r * (cols / 8) + w];
      for (int k = 0; k < 8; ++k) out[size_t(r * cols + w * 8 + kAwqOrder[k])] = (word >> (4 * k)) & 0xFu;
    }
  return out;
}

}  // namespace llmq
