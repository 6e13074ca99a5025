// ggml's 3-bit i-quants: IQ3_XXS (3.06 bpw) and IQ3_S (3.44 bpw). Groups of
// 4 values are points of a grid of magnitudes (IQ3_XXS: 256 points from
// {4, 12, ..., 62}; IQ3_S: 512 from {1, 3, ..., 15}) with sign bits per 8
// values; the search is in grid_search.h, this file holds the bit packing.
#include <cstring>

#include "quant/formats/ggml/ggml_quants.h"
#include "quant/formats/ggml/iq_grid_rows.h"
#include "quant/formats/ggml/iq_grids.h"
#include "util/half.h"

namespace llmq::ggml {

using namespace iq;

namespace {

// IQ3_XXS: sub-block scale d * (0.5 + l) / 2 = d * (2l + 1) / 4.
const GridFormat& iq3xxs_format() {
  static const GridFormat f{{&iq3xxs_book()}, true, true, 32, 16, 0.25f};
  return f;
}
// IQ3_S: sub-block scale d * (2l + 1), free signs.
const GridFormat& iq3s_format() {
  static const GridFormat f{{&iq3s_book()}, true, false, 32, 16, 1.f};
  return f;
}

// 8 values from two grid points of 4 and one sign byte.
void decode_pair(uint32_t first, uint32_t second, uint8_t signs, float scale, float* y) {
  for (int i = 0; i < 4; ++i) {
    y[i] = scale * float(grid_value(first, i)) * ((signs >> i) & 1 ? -1.f : 1.f);
    y[i + 4] = scale * float(grid_value(second, i)) * ((signs >> (i + 4)) & 1 ? -1.f : 1.f);
  }
}

}  // namespace

// ================================ IQ3_XXS ===================================
void quantize_row_iq3_xxs(const float* x, void* vy, int64_t n, const float* imatrix) {
  quantize_grid_row(iq3xxs_format(), "iq3_xxs", x, n, imatrix, vy, dequantize_row_iq3_xxs, [&](const GridCode& c, int64_t b) {
    BlockIQ3XXS blk{};
    blk.d = c.d_bits;
    for (int j = 0; j < 8; ++j) {
      uint32_t signs = uint32_t(c.code[j]) << 28;
      for (int k = 0; k < 8; ++k) blk.qs[8 * j + k] = uint8_t(c.sub[j].point[k]);
      for (int u = 0; u < 4; ++u) signs |= uint32_t(c.sub[j].signs[u] & 127) << (7 * u);
      std::memcpy(&blk.qs[64 + 4 * j], &signs, 4);
    }
    store_block(vy, b, blk);
  });
}

void dequantize_row_iq3_xxs(const void* vx, float* y, int64_t n) {
  const int64_t nb = super_blocks_of(n, "iq3_xxs");
  for (int64_t b = 0; b < nb; ++b) {
    const auto blk = load_block<BlockIQ3XXS>(vx, b);
    const float d = f16_to_f32(blk.d);
    for (int j = 0; j < 8; ++j) {
      uint32_t signs;
      std::memcpy(&signs, &blk.qs[64 + 4 * j], 4);
      const float scale = d * (0.5f + float(signs >> 28)) * 0.5f;
      for (int u = 0; u < 4; ++u, y += 8)
        decode_pair(kIq3xxsGrid[blk.qs[8 * j + 2 * u]], kIq3xxsGrid[blk.qs[8 * j + 2 * u + 1]],
                    signs_from_seven(signs >> (7 * u)), scale, y);
    }
  }
}

// ================================ IQ3_S =====================================
void quantize_row_iq3_s(const float* x, void* vy, int64_t n, const float* imatrix) {
  quantize_grid_row(iq3s_format(), "iq3_s", x, n, imatrix, vy, dequantize_row_iq3_s, [&](const GridCode& c, int64_t b) {
    BlockIQ3S blk{};
    blk.d = c.d_bits;
    for (int j = 0; j < 8; ++j) {
      for (int k = 0; k < 8; ++k) {
        blk.qs[8 * j + k] = uint8_t(c.sub[j].point[k] & 255);
        blk.qh[j] |= uint8_t((c.sub[j].point[k] >> 8) << k);
      }
      for (int u = 0; u < 4; ++u) blk.signs[4 * j + u] = c.sub[j].signs[u];
      blk.scales[j / 2] |= uint8_t(c.code[j] << (4 * (j % 2)));
    }
    store_block(vy, b, blk);
  });
}

void dequantize_row_iq3_s(const void* vx, float* y, int64_t n) {
  const int64_t nb = super_blocks_of(n, "iq3_s");
  for (int64_t b = 0; b < nb; ++b) {
    const auto blk = load_block<BlockIQ3S>(vx, b);
    const float d = f16_to_f32(blk.d);
    for (int j = 0; j < 8; ++j) {
      const float scale = d * float(1 + 2 * ((blk.scales[j / 2] >> (4 * (j % 2))) & 15));
      auto point = [&](int k) { return kIq3sGrid[blk.qs[8 * j + k] | (((blk.qh[j] >> k) & 1) << 8)]; };
      for (int u = 0; u < 4; ++u, y += 8) decode_pair(point(2 * u), point(2 * u + 1), blk.signs[4 * j + u], scale, y);
    }
  }
}

}  // namespace llmq::ggml
