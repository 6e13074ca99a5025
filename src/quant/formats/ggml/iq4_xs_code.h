#pragma once
// IQ4_XS's super-block encoding in its two steps, shared by the row
// quantizer (iq4_quants.cpp) and the column-at-a-time codec GPTQ uses
// (column_codec.cpp): choose the fp16 super-scale and the eight 6-bit
// sub-block scales, then (with any levels) write the block.
//
// Private to the ggml format code.
#include <cmath>
#include <cstdint>

#include "quant/formats/ggml/iq_blocks.h"
#include "quant/formats/ggml/nonlinear_levels.h"

namespace llmq::ggml::iq {

struct Iq4xsCode {
  uint16_t d_bits = 0;
  int ls[8] = {};  // -32..31: sub-block j's scale is d * ls[j]
  float err = INFINITY;
};

// The 16 non-linear levels (kIq4nlValues).
const LevelTable& iq4_levels();
// x: 256 values, w: their error weights.
Iq4xsCode fit_iq4_xs(const float* x, const float* w);
// q: the 256 level indices (0..15).
void store_iq4_xs(const Iq4xsCode& c, const uint8_t* q, BlockIQ4XS& blk);

}  // namespace llmq::ggml::iq
