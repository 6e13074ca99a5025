#pragma once
// Byte layouts of ggml's i-quant and ternary blocks. These structs are the
// file format: field order and sizes match ggml's block_iq* / block_tq*
// byte for byte (little-endian; fp16 fields kept as raw bits). Blocks are
// built in a local struct and copied to and from the row with memcpy, as a
// row inside a file image need not be aligned for the uint16_t fields.
//
// Private to the ggml format code.
#include <cstdint>
#include <cstring>

#include "util/error.h"

namespace llmq::ggml::iq {

constexpr int kSuperBlock = 256;

// 2.0625 bpw. Per 32 values, 8 bytes (two little-endian u32): the first u32
// holds 4 grid indices (one byte per 8 values, IQ2_XXS grid); the second
// 4 x 7 sign bits (bits 7k..7k+6 for values 8k..8k+7) and a 4-bit scale l in
// bits 28..31. x = d * (0.5 + l) / 4 * grid * sign.
struct BlockIQ2XXS {
  uint16_t d;
  uint16_t qs[32];
};

// 2.3125 bpw. qs[4j+k] = 9-bit grid index | 7 sign bits << 9 for values
// 32j+8k..; scales[j]: low nibble for values 32j..32j+15, high nibble for
// 32j+16..32j+31. x = d * (0.5 + l) / 4 * grid * sign.
struct BlockIQ2XS {
  uint16_t d;
  uint16_t qs[32];
  uint8_t scales[8];
};

// 2.5625 bpw. qs[0..31]: low 8 bits of the 10-bit grid indices; qs[32..63]:
// one sign byte per 8 values (bit i = value i negative, no parity rule);
// qh[j]: bits 2k..2k+1 are the top bits of group k of 32-value block j;
// scales as IQ2_XS.
struct BlockIQ2S {
  uint16_t d;
  uint8_t qs[64];
  uint8_t qh[8];
  uint8_t scales[8];
};

// 3.0625 bpw. qs[0..63]: one IQ3_XXS grid index per 4 values; qs[64..95]:
// per 32 values a u32 of 4 x 7 sign bits and a 4-bit scale in bits 28..31.
// x = d * (0.5 + l) / 2 * grid * sign.
struct BlockIQ3XXS {
  uint16_t d;
  uint8_t qs[96];
};

// 3.4375 bpw. qs: low 8 bits of the 9-bit grid indices, one per 4 values;
// qh[j] bit k: top bit of index k of 32-value block j; signs: one byte per
// 8 values (free); scales[i]: low nibble for values 64i..64i+31, high nibble
// for 64i+32..64i+63. x = d * (1 + 2l) * grid * sign.
struct BlockIQ3S {
  uint16_t d;
  uint8_t qs[64];
  uint8_t qh[8];
  uint8_t signs[32];
  uint8_t scales[4];
};

// 1.5625 bpw. qs: low 8 bits of the 11-bit IQ1S grid indices (one per 8
// values); qh[j] for 32-value block j: bits 3k..3k+2 top bits of index k,
// bits 12..14 scale l, bit 15 delta sign. x = d * (2l + 1) * (grid +- 1/8).
struct BlockIQ1S {
  uint16_t d;
  uint8_t qs[32];
  uint16_t qh[8];
};

// 1.75 bpw. qs as IQ1_S; qh[2j+h] for values 32j+16h..: low nibble = top 3
// bits of the first group's index + its delta sign (bit 3), high nibble the
// same for the second group. scales, read as four u16: 3-bit scales per 16
// values (u16 i bits 0..2, 3..5 for block 2i, 6..8, 9..11 for block 2i+1);
// the fp16 super-scale d is spread over the top nibbles (u16 i bits 12..15
// are bits 4i..4i+3 of d).
struct BlockIQ1M {
  uint8_t qs[32];
  uint8_t qh[16];
  uint8_t scales[8];
};

// 4.5 bpw, 32 values: x = d * kIq4nlValues[q]; byte j holds value j (low
// nibble) and value j+16 (high nibble).
struct BlockIQ4NL {
  uint16_t d;
  uint8_t qs[16];
};

// 4.25 bpw. Eight 32-value sub-blocks, x = d * (ls - 32) * kIq4nlValues[q]
// with a 6-bit ls: low 4 bits in scales_l (sub-block j: byte j/2, nibble
// j%2), top 2 bits in scales_h bits 2j..2j+1. qs as IQ4_NL per sub-block.
struct BlockIQ4XS {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[4];
  uint8_t qs[128];
};

// 1.6875 bpw ternary, x = d * (t - 1), t in {0, 1, 2}. Five trits per byte
// as a base-3 number (first trit most significant) scaled to a byte:
// byte = ceil(n * 256 / 243). qs[m] (m < 32) holds values m + 32k,
// k = 0..4; qs[32 + m] (m < 16) values 160 + m + 16k; qh[j] four trits
// for values 240 + j + 4k (k = 0..3) followed by a zero trit.
struct BlockTQ1 {
  uint8_t qs[48];
  uint8_t qh[4];
  uint16_t d;
};

// 2.0625 bpw ternary, x = d * (t - 1). qs[32c + m] holds values
// 128c + m + 32k at bits 2k..2k+1 (k = 0..3).
struct BlockTQ2 {
  uint8_t qs[64];
  uint16_t d;
};

static_assert(sizeof(BlockIQ2XXS) == 66 && sizeof(BlockIQ2XS) == 74 && sizeof(BlockIQ2S) == 82);
static_assert(sizeof(BlockIQ3XXS) == 98 && sizeof(BlockIQ3S) == 110);
static_assert(sizeof(BlockIQ1S) == 50 && sizeof(BlockIQ1M) == 56);
static_assert(sizeof(BlockIQ4NL) == 18 && sizeof(BlockIQ4XS) == 136);
static_assert(sizeof(BlockTQ1) == 54 && sizeof(BlockTQ2) == 66);

// Blocks in a row of n values; throws unless n is a whole number of them.
inline int64_t blocks_of(int64_t n, int64_t block, const char* type) {
  if (n % block != 0) fail("{}: row of {} values is not a multiple of {}", type, n, block);
  return n / block;
}
inline int64_t super_blocks_of(int64_t n, const char* type) { return blocks_of(n, kSuperBlock, type); }

template <typename Block>
inline Block load_block(const void* src, int64_t index) {
  Block b;
  std::memcpy(&b, static_cast<const uint8_t*>(src) + index * int64_t(sizeof(Block)), sizeof(Block));
  return b;
}
template <typename Block>
inline void store_block(void* dst, int64_t index, const Block& b) {
  std::memcpy(static_cast<uint8_t*>(dst) + index * int64_t(sizeof(Block)), &b, sizeof(Block));
}

}  // namespace llmq::ggml::iq
