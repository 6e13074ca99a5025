#pragma once
// Row driver shared by the grid i-quants: split a row into 256-value
// super-blocks, weight them, run the grid search and hand each result to
// the format's packer; then undo the search's shrinkage (row_gain.h). Private to
// the ggml format code.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "quant/formats/ggml/grid_search.h"
#include "quant/formats/ggml/iq_blocks.h"
#include "quant/formats/ggml/iq_weights.h"
#include "quant/formats/ggml/row_gain.h"
#include "util/error.h"
#include "util/half.h"

namespace llmq::ggml::iq {

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
    c.d_bits = scaled_f16(c.d_bits, gain);
    pack(c, b);
  }
}

}  // namespace llmq::ggml::iq
