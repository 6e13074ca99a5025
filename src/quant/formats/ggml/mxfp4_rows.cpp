// ggml row codec of MXFP4 over the block codec in quant/formats/fp, so that
// GGUF export (--tensor-type ...=mxfp4) and the GGUF loader handle the type.
#include "quant/formats/fp/mxfp4.h"
#include "quant/formats/ggml/ggml_quants.h"

namespace llmq::ggml {

// Rows arrive one at a time from quantize_rows, which already runs them in parallel.
void quantize_row_mxfp4(const float* x, void* y, int64_t n, const float* imatrix) {
  fp::quantize_mxfp4_ggml(x, 1, n, y, imatrix, fp::ScaleRule::search);
}

void dequantize_row_mxfp4(const void* x, float* y, int64_t n) { fp::dequantize_mxfp4_ggml(x, n, y); }

}  // namespace llmq::ggml
