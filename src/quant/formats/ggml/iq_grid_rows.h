#pragma once
// Row driver shared by the grid i-quants: split a row into 256-value
// super-blocks, weight them, run the grid search and hand each result to
// the format's packer. Private to the ggml format code.
#include <cstdint>

#include "quant/formats/ggml/grid_search.h"
#include "quant/formats/ggml/iq_blocks.h"
#include "quant/formats/ggml/iq_weights.h"
#include "util/error.h"

namespace llmq::ggml::iq {

// pack(code, block_index) writes one block.
template <typename Pack>
void quantize_grid_row(const GridFormat& format, const char* type, const float* x, int64_t n,
                       const float* imatrix, Pack&& pack) {
  const int64_t nb = super_blocks_of(n, type);
  GridSearch search(format);
  float w[kSuperBlock];
  GridCode code;
  for (int64_t b = 0; b < nb; ++b) {
    importance_weights(x + kSuperBlock * b, kSuperBlock, imatrix ? imatrix + kSuperBlock * b : nullptr,
                       format.sub_size, w);
    search.fit(x + kSuperBlock * b, w, code);
    pack(code, b);
  }
}

}  // namespace llmq::ggml::iq
