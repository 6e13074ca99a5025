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
