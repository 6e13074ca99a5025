// ggml's 2-bit i-quants: IQ2_XXS (2.06 bpw), IQ2_XS (2.31 bpw), IQ2_S
// (2.56 bpw). Groups of 8 values are points of a grid of magnitudes
// {8, 25, 43} (256, 512 or 1024 points) with sign bits; the search is in
// grid_search.h, this file holds the formats' bit packing.
#include <cstring>

#include "quant/formats/ggml/ggml_quants.h"
#include "quant/formats/ggml/iq_grid_rows.h"
#include "quant/formats/ggml/iq_grids.h"
#include "util/half.h"

namespace llmq::ggml {

using namespace iq;

namespace {

// Sub-block scale d * (0.5 + l) / 4 = d * (2l + 1) / 8, codes 0..15.
const GridFormat& iq2xxs_format() {
  static const GridFormat f{{&iq2xxs_book()}, true, true, 32, 16, 0.125f};
  return f;
}
const GridFormat& iq2xs_format() {
  static const GridFormat f{{&iq2xs_book()}, true, true, 16, 16, 0.125f};
  return f;
}
const GridFormat& iq2s_format() {
  static const GridFormat f{{&iq2s_book()}, true, false, 16, 16, 0.125f};
  return f;
}

uint32_t read_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Decodes 8 values: scale * grid magnitudes with the sign bits applied.
void decode_group(uint64_t grid_entry, uint8_t signs, float scale, float* y) {
  for (int i = 0; i < 8; ++i) y[i] = scale * float(grid_value(grid_entry, i)) * ((signs >> i) & 1 ? -1.f : 1.f);
}

// Scale of a 4-bit code l: (0.5 + l) / 4.
float iq2_scale(float d, int l) { return d * (0.5f + float(l)) * 0.25f; }

}  // namespace

// ================================ IQ2_XXS ===================================
void quantize_row_iq2_xxs(const float* x, void* vy, int64_t n, const float* imatrix) {
  quantize_grid_row(iq2xxs_format(), "iq2_xxs", x, n, imatrix, vy, dequantize_row_iq2_xxs, [&](const GridCode& c, int64_t b) {
    BlockIQ2XXS blk{};
    blk.d = c.d_bits;
    for (int j = 0; j < 8; ++j) {
      const SubBlockChoice& s = c.sub[j];
      uint32_t points = 0, signs = uint32_t(c.code[j]) << 28;
      for (int k = 0; k < 4; ++k) {
        points |= uint32_t(s.point[k]) << (8 * k);
        signs |= uint32_t(s.signs[k] & 127) << (7 * k);
      }
      std::memcpy(&blk.qs[4 * j], &points, 4);
      std::memcpy(&blk.qs[4 * j + 2], &signs, 4);
    }
    store_block(vy, b, blk);
  });
}

void dequantize_row_iq2_xxs(const void* vx, float* y, int64_t n) {
  const int64_t nb = super_blocks_of(n, "iq2_xxs");
  for (int64_t b = 0; b < nb; ++b) {
    const auto blk = load_block<BlockIQ2XXS>(vx, b);
    const float d = f16_to_f32(blk.d);
    for (int j = 0; j < 8; ++j) {
      const uint32_t points = read_u32(&blk.qs[4 * j]), signs = read_u32(&blk.qs[4 * j + 2]);
      const float scale = iq2_scale(d, int(signs >> 28));
      for (int k = 0; k < 4; ++k, y += 8)
        decode_group(kIq2xxsGrid[(points >> (8 * k)) & 255], signs_from_seven(signs >> (7 * k)), scale, y);
    }
  }
}

// ================================ IQ2_XS ====================================
void quantize_row_iq2_xs(const float* x, void* vy, int64_t n, const float* imatrix) {
  quantize_grid_row(iq2xs_format(), "iq2_xs", x, n, imatrix, vy, dequantize_row_iq2_xs, [&](const GridCode& c, int64_t b) {
    BlockIQ2XS blk{};
    blk.d = c.d_bits;
    for (int j = 0; j < 16; ++j) {  // 16-value sub-blocks: two groups each
      for (int k = 0; k < 2; ++k) blk.qs[2 * j + k] = uint16_t(c.sub[j].point[k] | ((c.sub[j].signs[k] & 127) << 9));
      blk.scales[j / 2] |= uint8_t(c.code[j] << (4 * (j % 2)));
    }
    store_block(vy, b, blk);
  });
}

void dequantize_row_iq2_xs(const void* vx, float* y, int64_t n) {
  const int64_t nb = super_blocks_of(n, "iq2_xs");
  for (int64_t b = 0; b < nb; ++b) {
    const auto blk = load_block<BlockIQ2XS>(vx, b);
    const float d = f16_to_f32(blk.d);
    for (int g = 0; g < 32; ++g, y += 8) {
      const float scale = iq2_scale(d, (blk.scales[g / 4] >> (4 * ((g / 2) % 2))) & 15);
      decode_group(kIq2xsGrid[blk.qs[g] & 511], signs_from_seven(blk.qs[g] >> 9), scale, y);
    }
  }
}

// ================================ IQ2_S =====================================
void quantize_row_iq2_s(const float* x, void* vy, int64_t n, const float* imatrix) {
  quantize_grid_row(iq2s_format(), "iq2_s", x, n, imatrix, vy, dequantize_row_iq2_s, [&](const GridCode& c, int64_t b) {
    BlockIQ2S blk{};
    blk.d = c.d_bits;
    for (int j = 0; j < 16; ++j) {
      for (int k = 0; k < 2; ++k) {
        const int g = 2 * j + k;  // group of 8 within the super-block
        const int point = c.sub[j].point[k];
        blk.qs[g] = uint8_t(point & 255);
        blk.qs[32 + g] = c.sub[j].signs[k];
        blk.qh[g / 4] |= uint8_t((point >> 8) << (2 * (g % 4)));
      }
      blk.scales[j / 2] |= uint8_t(c.code[j] << (4 * (j % 2)));
    }
    store_block(vy, b, blk);
  });
}

void dequantize_row_iq2_s(const void* vx, float* y, int64_t n) {
  const int64_t nb = super_blocks_of(n, "iq2_s");
  for (int64_t b = 0; b < nb; ++b) {
    const auto blk = load_block<BlockIQ2S>(vx, b);
    const float d = f16_to_f32(blk.d);
    for (int g = 0; g < 32; ++g, y += 8) {
      const float scale = iq2_scale(d, (blk.scales[g / 4] >> (4 * ((g / 2) % 2))) & 15);
      const int point = blk.qs[g] | (((blk.qh[g / 4] >> (2 * (g % 4))) & 3) << 8);
      decode_group(kIq2sGrid[point], blk.qs[32 + g], scale, y);
    }
  }
}

}  // namespace llmq::ggml
