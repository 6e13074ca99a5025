#include "quant/methods/rtn.h"

#include "util/error.h"

namespace llmq {

QuantizedLinear quantize_rtn_clipped(const Tensor& w, const IntQuantSpec& spec, const std::vector<float>& shrink) {
  if (w.shape.size() != 2) fail("RTN quantization needs a 2-D weight, got {}", shape_str(w.shape));
  const int64_t rows = w.rows(), cols = w.cols();
  spec.validate(cols);
  QuantizedLinear out;
  out.init(rows, cols, spec);
  const int64_t G = out.n_groups(), gl = spec.group_len(cols);
  if (!shrink.empty() && int64_t(shrink.size()) != rows * G) fail("clipping ratios: expected {} values", rows * G);
  const int maxq = spec.maxq();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = w.row(r);
    for (int64_t g = 0; g < G; ++g) {
      float lo, hi;
      value_range(row + g * gl, gl, 1, lo, hi);
      const GroupGrid grid = fit_group_grid(lo, hi, spec, shrink.empty() ? 1.0f : shrink[size_t(r * G + g)]);
      out.set_grid(r, g, grid);
      for (int64_t c = g * gl; c < (g + 1) * gl; ++c) out.q[size_t(r * cols + c)] = uint8_t(grid.quantize(row[c], maxq));
    }
  }
  return out;
}

QuantizedLinear quantize_rtn(const Tensor& w, const IntQuantSpec& spec) { return quantize_rtn_clipped(w, spec, {}); }

void fake_quantize_rtn(Tensor& w, const IntQuantSpec& spec) { w = quantize_rtn(w, spec).dequantize(); }

}  // namespace llmq
