#pragma once
// Byte layouts of ggml's legacy 32-value blocks. These structs are the file
// format: field order and sizes must match ggml's block_q4_0 ... block_q8_0
// exactly (fp16 scales stored as raw little-endian bits), so llama.cpp reads
// what we write. Private to the ggml format code.
#include <cstdint>
#include <cstring>

namespace llmq::ggml::legacy {

constexpr int kBlockValues = 32;               // values per legacy block
constexpr int kHalfBlock = kBlockValues / 2;   // one nibble byte holds values j and j+16

struct BlockQ4_0 {
  uint16_t d;                  // fp16 scale; value = d * (q - 8)
  uint8_t qs[kHalfBlock];      // low nibble: value j, high nibble: value j+16
};
struct BlockQ4_1 {
  uint16_t d;                  // fp16 scale; value = d * q + m
  uint16_t m;                  // fp16 offset
  uint8_t qs[kHalfBlock];
};
struct BlockQ5_0 {
  uint16_t d;                  // value = d * (q - 16), q has 5 bits
  uint8_t qh[4];               // bit j (little-endian u32) = 5th bit of value j
  uint8_t qs[kHalfBlock];      // low 4 bits, packed like Q4_0
};
struct BlockQ5_1 {
  uint16_t d;                  // value = d * q + m
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kHalfBlock];
};
struct BlockQ8_0 {
  uint16_t d;                  // value = d * q
  int8_t qs[kBlockValues];
};

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 &&
              sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34,
              "legacy block sizes must match ggml's type sizes");

// Packs 32 four-bit codes (only the low 4 bits of each are used).
inline void pack_nibbles(const uint8_t* q, uint8_t* qs) {
  for (int j = 0; j < kHalfBlock; ++j) qs[j] = uint8_t((q[j] & 0x0f) | ((q[j + kHalfBlock] & 0x0f) << 4));
}
inline void unpack_nibbles(const uint8_t* qs, uint8_t* q) {
  for (int j = 0; j < kHalfBlock; ++j) {
    q[j] = qs[j] & 0x0f;
    q[j + kHalfBlock] = qs[j] >> 4;
  }
}

// The fifth bit of code j goes to bit j of a little-endian u32 (codes 16..31 to bits 16..31).
inline void pack_high_bits(const uint8_t* q, uint8_t* qh) {
  uint32_t bits = 0;
  for (int j = 0; j < kBlockValues; ++j) bits |= uint32_t((q[j] >> 4) & 1u) << j;
  const uint8_t le[4] = {uint8_t(bits), uint8_t(bits >> 8), uint8_t(bits >> 16), uint8_t(bits >> 24)};
  std::memcpy(qh, le, 4);
}
inline void add_high_bits(const uint8_t* qh, uint8_t* q) {
  const uint32_t bits = uint32_t(qh[0]) | uint32_t(qh[1]) << 8 | uint32_t(qh[2]) << 16 | uint32_t(qh[3]) << 24;
  for (int j = 0; j < kBlockValues; ++j) q[j] = uint8_t(q[j] | (((bits >> j) & 1u) << 4));
}

}  // namespace llmq::ggml::legacy
