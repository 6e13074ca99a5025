#include "export/hf/lowbit_linear.h"

#include "quant/methods/rtn.h"
#include "util/error.h"

namespace llmq {

IntQuantSpec int8_channel_spec(bool int_quantized_layout) {
  IntQuantSpec spec;
  spec.bits = 8;
  spec.group_size = -1;
  spec.sym = true;
  spec.scale_storage = int_quantized_layout ? ScaleStorage::F32 : ScaleStorage::BF16;
  return spec;
}

LowbitLinear quantize_lowbit_linear(const Tensor& w, const LowbitScheme& scheme, const float* importance) {
  if (w.shape.size() != 2) fail("low-bit quantization needs a 2-D weight, got {}", shape_str(w.shape));
  LowbitLinear q;
  q.format = scheme.weights;
  q.rows = w.rows();
  q.cols = w.cols();
  const float* imp = scheme.use_importance ? importance : nullptr;
  switch (scheme.weights) {
    case LowbitWeights::Fp8:
      q.fp8 = fp::quantize_fp8(w.data.data(), q.rows, q.cols,
                               scheme.per_tensor_weights ? fp::Fp8Granularity::per_tensor : fp::Fp8Granularity::per_channel,
                               imp, scheme.scale_rule);
      break;
    case LowbitWeights::Int8: q.int8 = quantize_rtn(w, int8_channel_spec(scheme.quantizes_activations())); break;
    case LowbitWeights::Nvfp4: q.nvfp4 = fp::quantize_nvfp4(w.data.data(), q.rows, q.cols, imp, scheme.scale_rule); break;
    case LowbitWeights::Mxfp4: q.mxfp4 = fp::quantize_mxfp4(w.data.data(), q.rows, q.cols, imp, scheme.scale_rule); break;
  }
  return q;
}

namespace {

template <typename T>
std::vector<T> rows_of(const std::vector<T>& v, int64_t per_row, int64_t r0, int64_t r1) {
  return std::vector<T>(v.begin() + r0 * per_row, v.begin() + r1 * per_row);
}

}  // namespace

LowbitLinear slice_rows(const LowbitLinear& q, int64_t r0, int64_t r1) {
  if (r0 < 0 || r1 > q.rows || r0 >= r1) fail("rows [{}, {}) of a {}-row linear", r0, r1, q.rows);
  LowbitLinear s;
  s.format = q.format;
  s.rows = r1 - r0;
  s.cols = q.cols;
  s.input_scale = q.input_scale;
  switch (q.format) {
    case LowbitWeights::Fp8:
      s.fp8 = {s.rows, s.cols, q.fp8.granularity, rows_of(q.fp8.codes, q.cols, r0, r1),
               q.fp8.granularity == fp::Fp8Granularity::per_tensor ? q.fp8.scales : rows_of(q.fp8.scales, 1, r0, r1)};
      break;
    case LowbitWeights::Int8: {
      const int64_t G = q.int8.n_groups();
      s.int8.init(s.rows, s.cols, q.int8.spec);
      s.int8.q = rows_of(q.int8.q, q.cols, r0, r1);
      s.int8.scales = rows_of(q.int8.scales, G, r0, r1);
      s.int8.zeros = rows_of(q.int8.zeros, G, r0, r1);
      s.int8.g_idx = q.int8.g_idx;
      break;
    }
    case LowbitWeights::Nvfp4:
      s.nvfp4 = {s.rows, s.cols, rows_of(q.nvfp4.packed, q.cols / 2, r0, r1),
                 rows_of(q.nvfp4.scales, q.cols / fp::kNvfp4GroupSize, r0, r1), q.nvfp4.global_scale};
      break;
    case LowbitWeights::Mxfp4:
      s.mxfp4 = {s.rows, s.cols, rows_of(q.mxfp4.packed, q.cols / 2, r0, r1),
                 rows_of(q.mxfp4.scales, q.cols / fp::kMxfp4GroupSize, r0, r1)};
      break;
  }
  return s;
}

Tensor LowbitLinear::dequantize() const {
  Tensor t;
  switch (format) {
    case LowbitWeights::Int8: return int8.dequantize();
    case LowbitWeights::Fp8: t.resize({rows, cols}); fp::dequantize_fp8(fp8, t.data.data()); break;
    case LowbitWeights::Nvfp4: t.resize({rows, cols}); fp::dequantize_nvfp4(nvfp4, t.data.data()); break;
    case LowbitWeights::Mxfp4: t.resize({rows, cols}); fp::dequantize_mxfp4(mxfp4, t.data.data()); break;
  }
  return t;
}

}  // namespace llmq
