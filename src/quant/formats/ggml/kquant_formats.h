#pragma once
// Per k-quant format: the scale search settings and how one super-block's
// chosen code (scales, mins, levels) is written into the format's bytes.
// Shared by the row quantizers (kquants.cpp) and the column-at-a-time codec
// GPTQ uses (column_codec.cpp), so both write exactly the same layout.
//
// Private to the ggml format code.
#include <cstring>

#include "quant/formats/ggml/kquant_blocks.h"
#include "quant/formats/ggml/kquant_encode.h"

namespace llmq::ggml::kquant {

// The first-level grid spans about one level either side of "range /
// levels"; the radius is how many codes either side of the rounded sub-block
// scale (and min) the second level tries. Tuned on rows of the fixture
// models: going wider bought under 0.5% of error for a large share of the time.
constexpr AffineSpec kQ2Spec{16, 3, 15, {-0.5f, 0.1f, 16}, 2};
constexpr AffineSpec kQ4Spec{32, 15, 63, {-1.0f, 0.1f, 21}, 2};
constexpr AffineSpec kQ5Spec{32, 31, 63, {-0.5f, 0.1f, 11}, 2};
constexpr SymmetricSpec kQ3Spec{16, 4, -32, 31, {-0.9f, 0.1f, 19}, 3};
constexpr SymmetricSpec kQ6Spec{16, 32, -128, 127, {-0.9f, 0.1f, 19}, 2};

inline void store_q2_K(const AffineCode& c, BlockQ2K& y) {
  y.d = c.d_bits;
  y.dmin = c.dmin_bits;
  for (int j = 0; j < 16; ++j) y.scales[j] = uint8_t(c.sc[j] | (c.m[j] << 4));
  pack_2bit(c.q, y.qs);
}

inline void store_q3_K(const SymmetricCode& c, BlockQ3K& y) {
  y.d = c.d_bits;
  pack_q3_scales(c.sc, y.scales);
  std::memset(y.hmask, 0, sizeof y.hmask);
  uint8_t low[256];
  for (int v = 0; v < 256; ++v) {
    const int stored = c.q[v] + 4;  // 0..7
    low[v] = uint8_t(stored & 3);
    if (stored & 4) y.hmask[v % 32] |= uint8_t(1 << (v / 32));
  }
  pack_2bit(low, y.qs);
}

inline void store_q4_K(const AffineCode& c, BlockQ4K& y) {
  y.d = c.d_bits;
  y.dmin = c.dmin_bits;
  pack_scale_min_k4(c.sc, c.m, y.scales);
  for (int chunk = 0; chunk < 4; ++chunk)
    for (int l = 0; l < 32; ++l) y.qs[32 * chunk + l] = uint8_t(c.q[64 * chunk + l] | (c.q[64 * chunk + 32 + l] << 4));
}

inline void store_q5_K(const AffineCode& c, BlockQ5K& y) {
  y.d = c.d_bits;
  y.dmin = c.dmin_bits;
  pack_scale_min_k4(c.sc, c.m, y.scales);
  std::memset(y.qh, 0, sizeof y.qh);
  for (int chunk = 0; chunk < 4; ++chunk)
    for (int l = 0; l < 32; ++l) {
      const uint8_t lo = c.q[64 * chunk + l], hi = c.q[64 * chunk + 32 + l];
      y.qs[32 * chunk + l] = uint8_t((lo & 15) | ((hi & 15) << 4));
      y.qh[l] |= uint8_t(((lo >> 4) << (2 * chunk)) | ((hi >> 4) << (2 * chunk + 1)));
    }
}

inline void store_q6_K(const SymmetricCode& c, BlockQ6K& y) {
  y.d = c.d_bits;
  std::memcpy(y.scales, c.sc, 16);
  // Each 128-value half: ql byte l holds values l (low) and l+64 (high
  // nibble), byte l+32 values l+32 and l+96; qh byte l the top 2 bits of
  // l, l+32, l+64, l+96 at offsets 0, 2, 4, 6.
  for (int h = 0; h < 2; ++h) {
    const int8_t* q = c.q + 128 * h;
    uint8_t* ql = y.ql + 64 * h;
    uint8_t* qh = y.qh + 32 * h;
    for (int l = 0; l < 32; ++l) {
      uint8_t s[4];
      for (int k = 0; k < 4; ++k) s[k] = uint8_t(q[l + 32 * k] + 32);
      ql[l] = uint8_t((s[0] & 15) | ((s[2] & 15) << 4));
      ql[l + 32] = uint8_t((s[1] & 15) | ((s[3] & 15) << 4));
      qh[l] = uint8_t((s[0] >> 4) | ((s[1] >> 4) << 2) | ((s[2] >> 4) << 4) | ((s[3] >> 4) << 6));
    }
  }
}

}  // namespace llmq::ggml::kquant
