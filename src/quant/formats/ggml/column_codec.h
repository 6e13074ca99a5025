#pragma once
// A 256-value super-block of a k-quant (Q2_K..Q6_K) or IQ4_XS filled one
// value at a time, for methods that
// quantize a matrix column by column and change the columns not yet
// quantized as they go (GPTQ's error feedback, quant/methods/gptq_ggml.h).
//
// For each row: `fit` chooses the super-block's scales and mins (d, dmin and
// the sub-block codes, as the row quantizer does) from its 256 values as they
// are when the block is reached; `quantize` then rounds each value, in any
// order, to the nearest level of its sub-block under those fixed scales;
// `store` writes the bytes, exactly the layout quantize_row_* writes. (IQ4_XS
// rounds to the nearest of its 16 non-linear levels times the sub-block scale.)
// Rows are independent, so threads may work on disjoint rows at once.
#include <cstdint>
#include <memory>

#include "quant/formats/ggml/ggml_types.h"

namespace llmq::ggml {

class ColumnCodec {
 public:
  // Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and IQ4_XS.
  static bool supports(GgmlType type);

  ColumnCodec(GgmlType type, int64_t rows);
  ~ColumnCodec();

  // Row r's next super-block from its 256 values now; `importance`: 256
  // weights of the columns' errors (an imatrix's entries), or null.
  void fit(int64_t r, const float* x, const float* importance);
  // Rounds v, at position i (0..255) of row r's super-block, to its sub-block's
  // nearest level; returns the value that level decodes to.
  float quantize(int64_t r, int i, float v);
  // Row r's super-block in the format's bytes (row_size(type, 256) of them).
  void store(int64_t r, void* block) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmq::ggml
