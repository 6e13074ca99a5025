#pragma once
// Lookup tables of llama.cpp's i-quant formats. They are format constants:
// a stored grid index means "this grid point", so the tables must match
// ggml's value for value (data in iq_grids.cpp).
//
// A 64-bit grid entry packs 8 values, value i in byte i; a 32-bit entry
// packs 4. IQ2 grids hold magnitudes from {8, 25, 43}, IQ3_XXS from
// {4, 12, ..., 62}, IQ3_S from {1, 3, ..., 15} (signs are stored apart);
// the IQ1_S grid (also used by IQ1_M) holds signed values from {-1, 0, 1}.
#include <bit>
#include <cstdint>

namespace llmq::ggml::iq {

extern const uint64_t kIq2xxsGrid[256];
extern const uint64_t kIq2xsGrid[512];
extern const uint64_t kIq2sGrid[1024];
extern const uint32_t kIq3xxsGrid[256];
extern const uint32_t kIq3sGrid[512];
extern const uint64_t kIq1sGrid[2048];
// IQ4_NL / IQ4_XS levels, ascending.
extern const int8_t kIq4nlValues[16];

// IQ1_S / IQ1_M add +-1/8 to every grid value of a group ("delta").
constexpr float kIq1Delta = 0.125f;

// Value i (0-based) of a grid entry: unsigned bytes for IQ2/IQ3, signed for IQ1.
inline int grid_value(uint64_t entry, int i) { return int(uint8_t(entry >> (8 * i))); }
inline int grid_value_signed(uint64_t entry, int i) { return int(int8_t(uint8_t(entry >> (8 * i)))); }

// IQ2_XXS, IQ2_XS and IQ3_XXS store 7 sign bits per 8 values; the eighth
// sign makes the number of negative values even.
inline uint8_t signs_from_seven(uint32_t seven) {
  return uint8_t((seven & 127) | ((std::popcount(seven & 127) & 1) << 7));
}

}  // namespace llmq::ggml::iq
