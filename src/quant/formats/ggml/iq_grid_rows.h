#pragma once
// Row driver shared by the grid i-quants: split a row into 256-value
// super-blocks, weight them, run the grid search and hand each result to
// the format's packer; then undo the search's shrinkage (below). Private to
// the ggml format code.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "quant/formats/ggml/grid_search.h"
#include "quant/formats/ggml/iq_blocks.h"
#include "quant/formats/ggml/iq_weights.h"
#include "util/error.h"
#include "util/half.h"

namespace llmq::ggml::iq {

// The least-squares fit of a coarse grid shrinks the row: the reconstruction
// q keeps only a = <x, q>/<x, x> of x along x (0.92 for IQ2_XXS, 0.86 for
// IQ1_S on small-llama) and e = <q, q>/<x, x> of its power (0.94, 0.91), so
// every layer's output comes out scaled down on top of its noise, and the
// residual stream drifts. Scaling the row's super-scales by 1/a makes the
// output unbiased along the true one but overshoots its power (e/a^2 > 1);
// 1/sqrt(e) keeps the power but leaves most of the bias. Their geometric
// mean measured best: small-llama KL divergence, IQ2_XXS preset 0.326 (no
// gain) / 0.308 (1/a) / 0.309 (1/sqrt(e)) / 0.304 (geometric mean), IQ1_S
// 0.635 / 0.540 / 0.546 / 0.519 (llama-quantize: 0.302, 0.574). Inner
// products are importance-weighted (the columns' mean squared activations).
// The weighted squared error rises a little; the model's outputs improve.
inline float row_gain(const float* x, const float* q, int64_t n, const float* imatrix) {
  double xx = 0, xq = 0, qq = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double m = imatrix ? std::max(imatrix[i], 0.f) : 1.0;
    xx += m * x[i] * x[i];
    xq += m * x[i] * q[i];
    qq += m * q[i] * q[i];
  }
  if (!(xq > 0) || !(qq > 0)) return 1.f;
  return float(std::clamp(std::sqrt(std::sqrt(xx / qq) * (xx / xq)), 0.5, 2.0));
}

// pack(code, block_index) writes one block; dequantize decodes a packed row.
template <typename Pack>
void quantize_grid_row(const GridFormat& format, const char* type, const float* x, int64_t n,
                       const float* imatrix, void* vy, void (*dequantize)(const void*, float*, int64_t),
                       Pack&& pack) {
  const int64_t nb = super_blocks_of(n, type);
  GridSearch search(format);
  float w[kSuperBlock];
  std::vector<GridCode> codes(static_cast<size_t>(nb));
  for (int64_t b = 0; b < nb; ++b) {
    importance_weights(x + kSuperBlock * b, kSuperBlock, imatrix ? imatrix + kSuperBlock * b : nullptr,
                       format.sub_size, w);
    search.fit(x + kSuperBlock * b, w, codes[size_t(b)]);
    pack(codes[size_t(b)], b);
  }
  std::vector<float> q(static_cast<size_t>(n));
  dequantize(vy, q.data(), n);
  const float gain = row_gain(x, q.data(), n, imatrix);
  for (int64_t b = 0; b < nb; ++b) {
    GridCode& c = codes[size_t(b)];
    c.d_bits = f32_to_f16(f16_to_f32(c.d_bits) * gain);
    pack(c, b);
  }
}

}  // namespace llmq::ggml::iq
