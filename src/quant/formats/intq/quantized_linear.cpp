#include "quant/formats/intq/quantized_linear.h"

namespace llmq {

void QuantizedLinear::init(int64_t r, int64_t c, const IntQuantSpec& s) {
  rows = r;
  cols = c;
  spec = s;
  q.assign(size_t(r * c), 0);
  scales.assign(size_t(r * n_groups()), 1.0f);
  zeros.assign(size_t(r * n_groups()), 0);
  g_idx.resize(size_t(c));
  const int64_t gl = spec.group_len(c);
  for (int64_t i = 0; i < c; ++i) g_idx[size_t(i)] = int32_t(i / gl);
}

bool QuantizedLinear::has_sequential_groups() const {
  const int64_t gl = spec.group_len(cols);
  for (int64_t i = 0; i < cols; ++i)
    if (g_idx[size_t(i)] != i / gl) return false;
  return true;
}

Tensor QuantizedLinear::dequantize() const {
  Tensor t;
  t.resize({rows, cols});
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t.data[size_t(r * cols + c)] = dequant(r, c);
  return t;
}

}  // namespace llmq
