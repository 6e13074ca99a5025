// ggml's 1-bit i-quants: IQ1_S (1.56 bpw) and IQ1_M (1.75 bpw). Groups of 8
// values are points of a 2048-point grid of {-1, 0, 1} shifted by a delta
// of +-1/8 (per 32 values in IQ1_S, per group in IQ1_M); sub-block scales
// are d * (2l + 1) with 3-bit l. The search is in grid_search.h, this file
// holds the bit packing.
#include <cstring>

#include "quant/formats/ggml/ggml_quants.h"
#include "quant/formats/ggml/iq_grid_rows.h"
#include "quant/formats/ggml/iq_grids.h"
#include "util/half.h"

namespace llmq::ggml {

using namespace iq;

namespace {

// Two codebooks: the delta sign is a choice per 32-value sub-block.
const GridFormat& iq1s_format() {
  static const GridFormat f{{&iq1s_book(0), &iq1s_book(1)}, false, false, 32, 8, 1.f};
  return f;
}
// One codebook of 4096: grid point x delta sign, chosen per group.
const GridFormat& iq1m_format() {
  static const GridFormat f{{&iq1m_book()}, false, false, 16, 8, 1.f};
  return f;
}

void decode_group(int point, bool negative_delta, float scale, float* y) {
  const float delta = negative_delta ? -kIq1Delta : kIq1Delta;
  for (int i = 0; i < 8; ++i) y[i] = scale * (float(grid_value_signed(kIq1sGrid[point], i)) + delta);
}

}  // namespace

// ================================ IQ1_S =====================================
void quantize_row_iq1_s(const float* x, void* vy, int64_t n, const float* imatrix) {
  quantize_grid_row(iq1s_format(), "iq1_s", x, n, imatrix, vy, dequantize_row_iq1_s, [&](const GridCode& c, int64_t b) {
    BlockIQ1S blk{};
    blk.d = c.d_bits;
    for (int j = 0; j < 8; ++j) {
      const SubBlockChoice& s = c.sub[j];
      uint16_t h = uint16_t((c.code[j] << 12) | (s.variant << 15));
      for (int k = 0; k < 4; ++k) {
        blk.qs[4 * j + k] = uint8_t(s.point[k] & 255);
        h = uint16_t(h | ((s.point[k] >> 8) << (3 * k)));
      }
      blk.qh[j] = h;
    }
    store_block(vy, b, blk);
  });
}

void dequantize_row_iq1_s(const void* vx, float* y, int64_t n) {
  const int64_t nb = super_blocks_of(n, "iq1_s");
  for (int64_t b = 0; b < nb; ++b) {
    const auto blk = load_block<BlockIQ1S>(vx, b);
    const float d = f16_to_f32(blk.d);
    for (int j = 0; j < 8; ++j) {
      const uint16_t h = blk.qh[j];
      const float scale = d * float(2 * ((h >> 12) & 7) + 1);
      for (int k = 0; k < 4; ++k, y += 8) decode_group(blk.qs[4 * j + k] | (((h >> (3 * k)) & 7) << 8), h >> 15, scale, y);
    }
  }
}

// ================================ IQ1_M =====================================
namespace {
uint16_t scales_word(const uint8_t* scales, int i) {
  uint16_t v;
  std::memcpy(&v, scales + 2 * i, 2);
  return v;
}
}  // namespace

void quantize_row_iq1_m(const float* x, void* vy, int64_t n, const float* imatrix) {
  quantize_grid_row(iq1m_format(), "iq1_m", x, n, imatrix, vy, dequantize_row_iq1_m, [&](const GridCode& c, int64_t b) {
    BlockIQ1M blk{};
    uint16_t sc[4] = {};
    for (int j = 0; j < 16; ++j) {  // 16-value sub-blocks
      for (int k = 0; k < 2; ++k) {
        const int point = c.sub[j].point[k] % 2048, negative_delta = c.sub[j].point[k] / 2048;
        blk.qs[2 * j + k] = uint8_t(point & 255);
        blk.qh[j] |= uint8_t(((point >> 8) | (negative_delta << 3)) << (4 * k));
      }
      sc[j / 4] |= uint16_t(c.code[j] << (3 * (j % 4)));
    }
    for (int i = 0; i < 4; ++i) sc[i] |= uint16_t(((c.d_bits >> (4 * i)) & 15) << 12);  // d spread over the top nibbles
    std::memcpy(blk.scales, sc, 8);
    store_block(vy, b, blk);
  });
}

void dequantize_row_iq1_m(const void* vx, float* y, int64_t n) {
  const int64_t nb = super_blocks_of(n, "iq1_m");
  for (int64_t b = 0; b < nb; ++b) {
    const auto blk = load_block<BlockIQ1M>(vx, b);
    uint16_t d_bits = 0;
    for (int i = 0; i < 4; ++i) d_bits = uint16_t(d_bits | ((scales_word(blk.scales, i) >> 12) << (4 * i)));
    const float d = f16_to_f32(d_bits);
    for (int j = 0; j < 16; ++j) {
      const float scale = d * float(2 * ((scales_word(blk.scales, j / 4) >> (3 * (j % 4))) & 7) + 1);
      for (int k = 0; k < 2; ++k, y += 8) {
        const int nibble = (blk.qh[j] >> (4 * k)) & 15;
        decode_group(blk.qs[2 * j + k] | ((nibble & 7) << 8), nibble & 8, scale, y);
      }
    }
  }
}

}  // namespace llmq::ggml
