#pragma once
// AWQ (Lin et al., 2023): activation-aware per-input-channel scaling. Inputs
// channels with large mean |x| matter most, so their weight columns are
// scaled up by s before quantization (less relative rounding error) and the
// inverse 1/s is folded into the operation that produces the input (an
// RMSNorm or a preceding linear), which leaves the full-precision function
// unchanged. s = mean|x|^alpha (normalised), alpha chosen on a grid by the
// error of the block's output. An optional clipping search then shrinks each
// group's range where that lowers the layer's output error.
//
// This file holds the model-independent parts; the model driver supplies the
// block-output loss as a callback.
#include <cstdint>
#include <functional>
#include <vector>

#include "model/tensor.h"
#include "quant/formats/intq/int_quant_spec.h"

namespace llmq {

struct AwqOptions {
  int grid = 20;              // alpha in {0, 1/grid, ..., (grid-1)/grid}
  bool clip = true;           // search clipping ratios after scaling
  int clip_grid = 20;         // ratios 1, 1 - (1-min)/grid, ...
  float clip_min_ratio = 0.5f;
};

// s_c = max(x_mean_c, 1e-4)^alpha, divided by sqrt(max(s) * min(s)) so that scales straddle 1.
std::vector<float> awq_scales_for_alpha(const std::vector<float>& x_mean, double alpha);

struct AwqSearchResult {
  double alpha = 0;
  std::vector<float> scales;
  double loss = 0;          // block-output loss at the chosen alpha
  double loss_alpha0 = 0;   // the same at alpha = 0 (scales = 1: plain round-to-nearest)
};

// Evaluates loss(scales) at every grid point; keeps the smallest.
AwqSearchResult awq_search_scales(const std::vector<float>& x_mean, int grid,
                                  const std::function<double(const std::vector<float>&)>& loss);

// Per (row, group) clipping ratio in [clip_min_ratio, 1] minimising the
// layer's output error ||(W - Q) X||^2 restricted to the group, computed
// from the Gram matrix G = X^T X of the layer input ([in, in], row-major).
std::vector<float> awq_search_clip(const Tensor& w, const IntQuantSpec& spec, const std::vector<double>& gram,
                                   const AwqOptions& opt);

}  // namespace llmq
