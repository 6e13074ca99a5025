#pragma once
// GPTQ (Frantar et al., 2022) for one linear layer: quantizes the columns of
// W [out, in] one at a time in a fixed order, and after each column spreads
// its rounding error over the not-yet-quantized columns through the inverse
// Hessian of the layer's inputs, H = 2 X^T X / n, so that ||WX - QX|| stays
// small. Columns are processed in blocks (lazy batch updates: the error of a
// block reaches the columns after it in one matrix product).
#include <cstdint>
#include <string>
#include <vector>

#include "model/tensor.h"
#include "quant/formats/intq/quantized_linear.h"

namespace llmq {

struct GptqOptions {
  double damp_percent = 0.01;  // lambda = damp_percent * mean(diag H), added to the diagonal
  int64_t block_size = 128;    // columns per lazy batch update
  bool desc_act = false;       // quantize columns by decreasing diag(H) ("act order"); groups then follow that order (g_idx)
  bool static_groups = false;  // fit every group's grid before any update, on the original column order
  // Fit each (row, group) grid with the clipping ratio in [clip_min_ratio, 1] that minimises the
  // group's rounding errors weighted as GPTQ's loss weights them (e^2 / U_jj^2), not plain min-max.
  bool clip_search = true;
  int clip_grid = 20;
  float clip_min_ratio = 0.5f;
};

struct GptqStats {
  double loss = 0;          // sum of squared rounding errors weighted by 1/[H^-1]_jj, the objective's proxy
  double damp_percent = 0;  // dampening used (grows when the Hessian does not factor)
  int retries = 0;
  bool rtn_fallback = false;  // the Hessian never factored: plain round-to-nearest
  int64_t dead_columns = 0;   // inputs never active in calibration: weights zeroed, as the reference does
  std::string warning;
};

// w: [out, in]; h: [in, in] row-major symmetric (any positive multiple of X^T X).
QuantizedLinear gptq_quantize(const Tensor& w, std::vector<double> h, const IntQuantSpec& spec,
                              const GptqOptions& opt = {}, GptqStats* stats = nullptr);

// ||(W - Q) X||^2 summed over tokens, from the Gram matrix G = X^T X:
// sum over rows of d^T G d with d the row's error. For comparing methods.
double output_error_from_gram(const Tensor& w, const Tensor& q, const std::vector<double>& gram);

}  // namespace llmq
