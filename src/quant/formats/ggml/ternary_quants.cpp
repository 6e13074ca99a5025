// ggml's ternary formats TQ1_0 (1.6875 bpw) and TQ2_0 (2.0625 bpw): every
// value of a 256-value block is -d, 0 or +d.
//
// The best ternary code is found exactly. For a scale s a value is best
// coded as +-s when |x| > s/2 and 0 otherwise, whatever its weight, so the
// non-zero values are always the k largest in magnitude for some k. For each
// k the least-squares scale is sum(w|x|)/sum(w) over those k values, with
// error sum(w x^2) - sum(w|x|)^2/sum(w); scanning k in order of |x| finds the
// optimum. The scale is then rounded to fp16 (its neighbours tried too) and
// every value re-coded against the rounded scale.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "quant/formats/ggml/ggml_quants.h"
#include "quant/formats/ggml/iq_blocks.h"
#include "quant/formats/ggml/iq_weights.h"
#include "util/error.h"
#include "util/half.h"

namespace llmq::ggml {

using namespace iq;

namespace {

// Trits t in {0, 1, 2} (value -1, 0, +1) for scale d, and the weighted error.
float ternary_code(const float* x, const float* w, float d, uint8_t* t) {
  float err = 0;
  for (int i = 0; i < 256; ++i) {
    const bool nonzero = d > 0 && std::fabs(x[i]) > 0.5f * d;
    t[i] = uint8_t(nonzero ? (x[i] > 0 ? 2 : 0) : 1);
    const float e = x[i] - d * float(int(t[i]) - 1);
    err += w[i] * e * e;
  }
  return err;
}

// Best fp16 scale and the trits of one block.
uint16_t fit_ternary(const float* x, const float* w, uint8_t* t) {
  int order[256];
  std::iota(order, order + 256, 0);
  std::sort(order, order + 256, [&](int a, int b) { return std::fabs(x[a]) > std::fabs(x[b]); });
  double sum_wx = 0, sum_w = 0, best_gain = 0, best_s = 0;
  for (int k = 0; k < 256; ++k) {
    const int i = order[k];
    sum_wx += double(w[i]) * std::fabs(x[i]);
    sum_w += w[i];
    if (sum_w > 0 && sum_wx * sum_wx > best_gain * sum_w) best_gain = sum_wx * sum_wx / sum_w, best_s = sum_wx / sum_w;
  }
  const uint16_t bits = f32_to_f16(float(best_s));
  uint16_t best = bits;
  float best_err = ternary_code(x, w, f16_to_f32(bits), t);
  for (int delta : {-1, 1}) {
    const uint16_t b = uint16_t(bits + delta);
    if ((b & 0x8000) || b >= 0x7c00) continue;  // keep it positive and finite
    const float err = ternary_code(x, w, f16_to_f32(b), t);
    if (err < best_err) best_err = err, best = b;
  }
  ternary_code(x, w, f16_to_f32(best), t);
  return best;
}

// Five trits as one byte: the base-3 number they spell (first trit most
// significant), scaled from 0..242 onto a byte and rounded up, so that
// trit k can be read back as the top "digit" of byte * 3^k.
uint8_t pack_trits(const uint8_t* t, int stride, int count) {
  int v = 0;
  for (int k = 0; k < 5; ++k) v = 3 * v + (k < count ? t[k * stride] : 0);
  return uint8_t((v * 256 + 242) / 243);
}
// Trit k (0 = most significant) of a packed byte.
int unpack_trit(uint8_t byte, int k) {
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const uint8_t shifted = uint8_t(byte * kPow3[k]);  // mod 256 drops the trits before k
  return (int(shifted) * 3) >> 8;
}

// Fits each 256-value block and hands block index, fp16 scale and trits to pack.
template <typename Pack>
void quantize_ternary_row(const float* x, int64_t n, const float* imatrix, const char* type, Pack&& pack) {
  const int64_t nb = super_blocks_of(n, type);
  float w[256];
  uint8_t t[256];
  for (int64_t b = 0; b < nb; ++b, x += 256) {
    importance_weights(x, 256, imatrix ? imatrix + 256 * b : nullptr, 32, w);
    const uint16_t d = fit_ternary(x, w, t);
    pack(b, d, t);
  }
}

}  // namespace

// ================================ TQ1_0 =====================================
void quantize_row_tq1_0(const float* x, void* vy, int64_t n, const float* imatrix) {
  quantize_ternary_row(x, n, imatrix, "tq1_0", [&](int64_t b, uint16_t d, const uint8_t* t) {
    BlockTQ1 blk{};
    blk.d = d;
    for (int m = 0; m < 32; ++m) blk.qs[m] = pack_trits(t + m, 32, 5);             // values 0..159
    for (int m = 0; m < 16; ++m) blk.qs[32 + m] = pack_trits(t + 160 + m, 16, 5);  // values 160..239
    for (int j = 0; j < 4; ++j) blk.qh[j] = pack_trits(t + 240 + j, 4, 4);        // values 240..255
    store_block(vy, b, blk);
  });
}

void dequantize_row_tq1_0(const void* vx, float* y, int64_t n) {
  const int64_t nb = super_blocks_of(n, "tq1_0");
  for (int64_t b = 0; b < nb; ++b, y += 256) {
    const auto blk = load_block<BlockTQ1>(vx, b);
    const float d = f16_to_f32(blk.d);
    for (int k = 0; k < 5; ++k) {
      for (int m = 0; m < 32; ++m) y[m + 32 * k] = d * float(unpack_trit(blk.qs[m], k) - 1);
      for (int m = 0; m < 16; ++m) y[160 + m + 16 * k] = d * float(unpack_trit(blk.qs[32 + m], k) - 1);
    }
    for (int k = 0; k < 4; ++k)
      for (int j = 0; j < 4; ++j) y[240 + j + 4 * k] = d * float(unpack_trit(blk.qh[j], k) - 1);
  }
}

// ================================ TQ2_0 =====================================
void quantize_row_tq2_0(const float* x, void* vy, int64_t n, const float* imatrix) {
  quantize_ternary_row(x, n, imatrix, "tq2_0", [&](int64_t b, uint16_t d, const uint8_t* t) {
    BlockTQ2 blk{};
    blk.d = d;
    for (int c = 0; c < 2; ++c)
      for (int m = 0; m < 32; ++m)
        for (int k = 0; k < 4; ++k) blk.qs[32 * c + m] |= uint8_t(t[128 * c + m + 32 * k] << (2 * k));
    store_block(vy, b, blk);
  });
}

void dequantize_row_tq2_0(const void* vx, float* y, int64_t n) {
  const int64_t nb = super_blocks_of(n, "tq2_0");
  for (int64_t b = 0; b < nb; ++b, y += 256) {
    const auto blk = load_block<BlockTQ2>(vx, b);
    const float d = f16_to_f32(blk.d);
    for (int c = 0; c < 2; ++c)
      for (int k = 0; k < 4; ++k)
        for (int m = 0; m < 32; ++m) y[128 * c + 32 * k + m] = d * float(((blk.qs[32 * c + m] >> (2 * k)) & 3) - 1);
  }
}

}  // namespace llmq::ggml
