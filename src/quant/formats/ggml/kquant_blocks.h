#pragma once
// Byte layouts of ggml's k-quant super-blocks (256 values each) and the
// packing of their sub-block scales. These structs are the file format: field
// order and sizes match ggml's block_q2_K .. block_q8_K byte for byte (x86 is
// little-endian, as GGUF is). fp16 fields are kept as raw bits.
//
// Private to kquants.cpp.
#include <cstdint>

namespace llmq::ggml::kquant {

constexpr int kSuperBlock = 256;

// x = d*sc*q - dmin*m, 16 sub-blocks of 16, q in 0..3, sc/m 4 bits each
// (sc in the low nibble of scales[j], m in the high nibble).
struct BlockQ2K {
  uint8_t scales[16];
  uint8_t qs[64];  // 2-bit quants, see pack_2bit
  uint16_t d;
  uint16_t dmin;
};

// x = d*sc*q, 16 sub-blocks of 16, q in -4..3 stored as q+4: low 2 bits in
// qs, the high bit in hmask; sc in -32..31 stored as 6 bits (sc+32).
struct BlockQ3K {
  uint8_t hmask[32];  // value v's high bit: hmask[v % 32] bit (v / 32)
  uint8_t qs[64];
  uint8_t scales[12];  // see pack_q3_scales
  uint16_t d;
};

// x = d*sc*q - dmin*m, 8 sub-blocks of 32, q in 0..15, sc/m 6 bits.
struct BlockQ4K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];  // see pack_scale_min_k4
  uint8_t qs[128];     // 64-value chunk c: byte 32c+l holds value 64c+l (low) and 64c+32+l (high)
};

// As Q4_K with a fifth bit per value in qh.
struct BlockQ5K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[32];   // value 64c+l: qh[l] bit 2c; value 64c+32+l: qh[l] bit 2c+1
  uint8_t qs[128];  // low 4 bits, laid out as in Q4_K
};

// x = d*sc*q, 16 sub-blocks of 16, q in -32..31 stored as q+32 (low 4 bits in
// ql, high 2 bits in qh), sc a signed byte.
struct BlockQ6K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};

// x = d*q with a float d; bsums[j] = sum of q over values 16j..16j+15 (used by
// ggml's dot products).
struct BlockQ8K {
  float d;
  int8_t qs[256];
  int16_t bsums[16];
};

static_assert(sizeof(BlockQ2K) == 84);
static_assert(sizeof(BlockQ3K) == 110);
static_assert(sizeof(BlockQ4K) == 144);
static_assert(sizeof(BlockQ5K) == 176);
static_assert(sizeof(BlockQ6K) == 210);
static_assert(sizeof(BlockQ8K) == 292);

// --- 2-bit planes (Q2_K quants, Q3_K low bits) -------------------------------
// In each 128-value half h, byte 32h+l holds values 128h+l, +32, +64, +96 at
// bit offsets 0, 2, 4, 6.
inline void pack_2bit(const uint8_t* levels, uint8_t* qs) {
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const uint8_t* v = levels + 128 * h + l;
      qs[32 * h + l] = uint8_t((v[0] & 3) | ((v[32] & 3) << 2) | ((v[64] & 3) << 4) | ((v[96] & 3) << 6));
    }
}
inline int unpack_2bit(const uint8_t* qs, int v) {
  return (qs[32 * (v / 128) + v % 32] >> (2 * ((v % 128) / 32))) & 3;
}

// --- Q4_K / Q5_K: eight 6-bit scales and eight 6-bit mins in 12 bytes --------
// Sub-blocks 0..3 keep their codes in the low 6 bits of bytes 0..3 (scale) and
// 4..7 (min); sub-blocks 4..7 keep their low 4 bits in the nibbles of bytes
// 8..11 and their top 2 bits in the spare top bits of bytes 0..7.
inline void pack_scale_min_k4(const uint8_t* sc, const uint8_t* m, uint8_t* out) {
  for (int j = 0; j < 4; ++j) {
    out[j] = uint8_t((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    out[j + 4] = uint8_t((m[j] & 63) | ((m[j + 4] >> 4) << 6));
    out[j + 8] = uint8_t((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
  }
}
inline void unpack_scale_min_k4(const uint8_t* in, int j, int& sc, int& m) {
  if (j < 4) {
    sc = in[j] & 63;
    m = in[j + 4] & 63;
  } else {
    sc = (in[j + 4] & 15) | ((in[j - 4] >> 6) << 4);
    m = (in[j + 4] >> 4) | ((in[j] >> 6) << 4);
  }
}

// --- Q3_K: sixteen signed 6-bit scales in 12 bytes ---------------------------
// Code c = sc+32. Low nibble of c_j: byte j%8, low nibble for j<8, high for
// j>=8. Top 2 bits of c_j: byte 8 + j%4, bit offset 2*(j/4).
inline void pack_q3_scales(const int8_t* sc, uint8_t* out) {
  for (int i = 0; i < 12; ++i) out[i] = 0;
  for (int j = 0; j < 16; ++j) {
    const int c = sc[j] + 32;
    out[j % 8] |= uint8_t((c & 15) << (j < 8 ? 0 : 4));
    out[8 + j % 4] |= uint8_t((c >> 4) << (2 * (j / 4)));
  }
}
inline int unpack_q3_scale(const uint8_t* in, int j) {
  const int low = (in[j % 8] >> (j < 8 ? 0 : 4)) & 15;
  const int high = (in[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (low | (high << 4)) - 32;
}

}  // namespace llmq::ggml::kquant
