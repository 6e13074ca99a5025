// ggml's non-linear 4-bit formats: IQ4_NL (32-value blocks, one fp16 scale)
// and IQ4_XS (256-value super-blocks, 6-bit sub-block scales). Every value
// takes one of 16 fixed, unevenly spaced levels (kIq4nlValues) times a scale.
//
// IQ4_NL: the exact best scale of each block (nonlinear_levels.h), rounded
// to fp16; the fp16 neighbours are tried too, as rounding moves the levels.
// IQ4_XS: the exact best scale of each sub-block first; then the
// super-scale d is chosen among candidates that put the largest sub-block
// scale on one of the top codes, each sub-block trying the codes around its
// ideal scale with its true error; finally d is refitted by least squares to
// the chosen codes and levels and kept if that lowers the error.
#include <cmath>
#include <cstring>

#include "quant/formats/ggml/ggml_quants.h"
#include "quant/formats/ggml/iq_blocks.h"
#include "quant/formats/ggml/iq_grids.h"
#include "quant/formats/ggml/iq_weights.h"
#include "quant/formats/ggml/iq4_xs_code.h"
#include "quant/formats/ggml/nonlinear_levels.h"
#include "util/error.h"
#include "util/half.h"

namespace llmq::ggml {

using namespace iq;

namespace {

// Byte j of a 32-value block: value j in the low nibble, value j+16 in the high one.
void pack_iq4(const uint8_t* q, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = uint8_t(q[j] | (q[j + 16] << 4));
}
void unpack_iq4(const uint8_t* qs, float scale, float* y) {
  for (int j = 0; j < 16; ++j) {
    y[j] = scale * kIq4nlValues[qs[j] & 15];
    y[j + 16] = scale * kIq4nlValues[qs[j] >> 4];
  }
}

// The fp16 value nearest to s and its two neighbours, best by true error.
uint16_t best_fp16_scale(const float* x, const float* w, int n, float s) {
  const LevelTable& lv = iq4_levels();
  const uint16_t bits = f32_to_f16(s);
  uint16_t best = bits;
  float best_err = lv.error(x, w, n, f16_to_f32(bits));
  for (int delta : {-1, 1}) {
    const uint16_t b = uint16_t(bits + delta);
    if (((b ^ bits) & 0x8000) || (b & 0x7c00) == 0x7c00) continue;  // crossed zero or reached inf/NaN
    const float err = lv.error(x, w, n, f16_to_f32(b));
    if (err < best_err) best_err = err, best = b;
  }
  return best;
}

// ---- IQ4_XS super-block ------------------------------------------------------

// For a super-scale d, each sub-block's best code near its ideal scale.
Iq4xsCode codes_for(const float* x, const float* w, const float* ideal, float d_wanted) {
  const LevelTable& lv = iq4_levels();
  Iq4xsCode c;
  c.d_bits = f32_to_f16(d_wanted);
  const float d = f16_to_f32(c.d_bits);
  if (!std::isfinite(d)) return c;
  c.err = 0;
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    const float* ws = w + 32 * j;
    const int centre = d != 0 ? int(std::clamp(std::nearbyint(ideal[j] / d), -40.f, 40.f)) : 0;
    float best = INFINITY;
    for (int l = std::max(-32, centre - 1); l <= std::min(31, centre + 1); ++l) {
      const float err = lv.error(xs, ws, 32, d * float(l));
      if (err < best) best = err, c.ls[j] = l;
    }
    if (!(best < INFINITY)) best = lv.error(xs, ws, 32, 0.f), c.ls[j] = 0;  // centre far outside the codes
    c.err += best;
  }
  return c;
}

// Least-squares super-scale for fixed codes and levels.
float refit_d(const float* x, const float* w, const Iq4xsCode& c) {
  const LevelTable& lv = iq4_levels();
  const float d = f16_to_f32(c.d_bits);
  double num = 0, den = 0;
  uint8_t q[32];
  for (int j = 0; j < 8; ++j) {
    lv.error(x + 32 * j, w + 32 * j, 32, d * float(c.ls[j]), q);
    for (int i = 0; i < 32; ++i) {
      const double a = double(c.ls[j]) * lv.value(q[i]);
      num += w[32 * j + i] * x[32 * j + i] * a;
      den += w[32 * j + i] * a * a;
    }
  }
  return den > 0 ? float(num / den) : 0.f;
}

}  // namespace

// ---- IQ4_XS steps (iq4_xs_code.h) --------------------------------------------
const LevelTable& iq::iq4_levels() {
  static const LevelTable table(kIq4nlValues, 16);
  return table;
}

// The super-scale and sub-block codes of 256 values (weights w).
Iq4xsCode iq::fit_iq4_xs(const float* xb, const float* w) {
  const LevelTable& lv = iq4_levels();
  float ideal[8];
  float peak = 0;  // the ideal sub-block scale of largest magnitude, with its sign
  for (int j = 0; j < 8; ++j) {
    ideal[j] = lv.best_scale(xb + 32 * j, w + 32 * j, 32);
    if (std::fabs(ideal[j]) > std::fabs(peak)) peak = ideal[j];
  }

  Iq4xsCode best;
  if (peak == 0) {
    best = codes_for(xb, w, ideal, 0.f);
  } else {
    // The peak sub-block on code -32 (the extra negative one), -31, ... or +31, +30, ...
    for (float top : {-32.f, -31.f, -30.f, -29.f, 31.f, 30.f, 29.f}) {
      const Iq4xsCode c = codes_for(xb, w, ideal, peak / top);
      if (c.err < best.err) best = c;
    }
    const Iq4xsCode refit = codes_for(xb, w, ideal, refit_d(xb, w, best));
    if (refit.err < best.err) best = refit;
  }

  return best;
}

void iq::store_iq4_xs(const Iq4xsCode& c, const uint8_t* q, BlockIQ4XS& blk) {
  blk = BlockIQ4XS{};
  blk.d = c.d_bits;
  for (int j = 0; j < 8; ++j) {
    const int ls = c.ls[j] + 32;  // 0..63
    blk.scales_l[j / 2] |= uint8_t((ls & 15) << (4 * (j % 2)));
    blk.scales_h |= uint16_t((ls >> 4) << (2 * j));
    pack_iq4(q + 32 * j, blk.qs + 16 * j);
  }
}

// ================================ IQ4_NL ====================================
void quantize_row_iq4_nl(const float* x, void* vy, int64_t n, const float* imatrix) {
  const int64_t nb = blocks_of(n, 32, "iq4_nl");
  const LevelTable& lv = iq4_levels();
  float w[32];
  uint8_t q[32];
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + 32 * b;
    importance_weights(xb, 32, imatrix ? imatrix + 32 * b : nullptr, 32, w);
    BlockIQ4NL blk{};
    blk.d = best_fp16_scale(xb, w, 32, lv.best_scale(xb, w, 32));
    lv.error(xb, w, 32, f16_to_f32(blk.d), q);
    pack_iq4(q, blk.qs);
    store_block(vy, b, blk);
  }
}

void dequantize_row_iq4_nl(const void* vx, float* y, int64_t n) {
  const int64_t nb = blocks_of(n, 32, "iq4_nl");
  for (int64_t b = 0; b < nb; ++b, y += 32) {
    const auto blk = load_block<BlockIQ4NL>(vx, b);
    unpack_iq4(blk.qs, f16_to_f32(blk.d), y);
  }
}

// ================================ IQ4_XS ====================================
void quantize_row_iq4_xs(const float* x, void* vy, int64_t n, const float* imatrix) {
  const int64_t nb = super_blocks_of(n, "iq4_xs");
  float w[256];
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + 256 * b;
    importance_weights(xb, 256, imatrix ? imatrix + 256 * b : nullptr, 32, w);
    const Iq4xsCode best = fit_iq4_xs(xb, w);
    uint8_t q[256];
    const float d = f16_to_f32(best.d_bits);
    for (int j = 0; j < 8; ++j) iq4_levels().error(xb + 32 * j, w + 32 * j, 32, d * float(best.ls[j]), q + 32 * j);
    BlockIQ4XS blk{};
    store_iq4_xs(best, q, blk);
    store_block(vy, b, blk);
  }
}

void dequantize_row_iq4_xs(const void* vx, float* y, int64_t n) {
  const int64_t nb = super_blocks_of(n, "iq4_xs");
  for (int64_t b = 0; b < nb; ++b) {
    const auto blk = load_block<BlockIQ4XS>(vx, b);
    const float d = f16_to_f32(blk.d);
    for (int j = 0; j < 8; ++j, y += 32) {
      const int ls = ((blk.scales_l[j / 2] >> (4 * (j % 2))) & 15) | (((blk.scales_h >> (2 * j)) & 3) << 4);
      unpack_iq4(blk.qs + 16 * j, d * float(ls - 32), y);
    }
  }
}

}  // namespace llmq::ggml
