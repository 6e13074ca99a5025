#pragma once
// AWQ (Lin et al., 2023): activation-aware per-input-channel scaling. Inputs
// channels with large mean |x| matter most, so their weight columns are
// scaled up by s before quantization (less relative rounding error) and the
// inverse 1/s is folded into the operation that produces the input (an
// RMSNorm or a preceding linear), which leaves the full-precision function
// unchanged. s = mean|x|^alpha (divided by mean|w|^(1-alpha) with AutoAWQ's
// duo scaling), alpha chosen on a grid. An optional clipping search then
// shrinks each group's range where that lowers the layer's output error.
//
// Every loss here is the output error of the linears the scale touches,
// ||(W - W_q) X||^2, computed from the Gram matrix G = X^T X of their input:
// tr(D G D^T) costs out * in^2 whatever the number of calibration tokens, so
// a grid point never reruns the model. With fewer tokens than input channels
// a low-rank factor G = F F^T (quant/methods/gram_factor.h) makes it
// ||D F||^2, out * in * rank. The model driver (awq_model.cpp)
// collects the Gram matrices and folds the chosen scales.
#include <cstdint>
#include <functional>
#include <vector>

#include "model/tensor.h"
#include "quant/methods/gram_factor.h"
#include "quant/formats/intq/int_quant_spec.h"

namespace llmq {

struct AwqOptions {
  int grid = 20;              // alpha in {0, 1/grid, ..., (grid-1)/grid}
  // s = x^a / w^(1-a) (AutoAWQ's default) rather than x^a. Off: on small-llama and tiny-llama at
  // 3 bits x^a alone recovered clearly more of RTN's perplexity loss (docs/gptq_awq.md).
  bool duo_scaling = false;
  bool clip = true;           // search clipping ratios after scaling
  int clip_grid = 20;         // ratios 1, 1 - (1-min)/grid, ...
  float clip_min_ratio = 0.5f;
};

// One linear whose input columns a scale multiplies. `tie` maps input column
// -> index into s (empty: identity); o_proj reads v through the query heads
// of a GQA group, so several of its columns share one scale.
struct AwqScaledLinear {
  const Tensor* weight = nullptr;     // [out, in]
  const std::vector<float>* gram = nullptr;  // [in, in] row-major, X^T X of the input (unscaled)
  const std::vector<int64_t>* tie = nullptr;
  const GramFactor* factor = nullptr;        // when set with a non-empty factor: used instead of `gram`
};

// AutoAWQ's weight term: per scale index, the mean over output rows (of all
// `linears`) of |w| / max|w| of the weight's quantization group.
std::vector<float> awq_weight_magnitude(const std::vector<AwqScaledLinear>& linears, const IntQuantSpec& spec,
                                        int64_t n_scales);

// s_c = max(x_c, 1e-4)^alpha, or with w_mean: x_c^alpha / (w_c^(1-alpha) + 1e-4);
// then divided by sqrt(max(s) * min(s)) so that scales straddle 1.
std::vector<float> awq_scales_for_alpha(const std::vector<float>& x_mean, const std::vector<float>& w_mean, double alpha);

// ||(W - Q(W diag(s)) diag(s)^-1) X||^2 summed over tokens and rows: what the
// scaled, round-to-nearest quantized linear loses on its calibration inputs.
double awq_scaled_output_error(const AwqScaledLinear& lin, const std::vector<float>& s, const IntQuantSpec& spec);

struct AwqSearchResult {
  double alpha = 0;
  std::vector<float> scales;
  bool identity = false;    // s = 1 (plain round-to-nearest) beat every grid point
  double loss = 0;          // output error of the chosen scales
  double loss_identity = 0; // the same with s = 1
};

// Evaluates loss(scales) at s = 1 and at every grid point; keeps the smallest.
AwqSearchResult awq_search_scales(const std::vector<float>& x_mean, const std::vector<float>& w_mean, int grid,
                                  const std::function<double(const std::vector<float>&)>& loss);

// The whole search for one scale group: losses summed over `linears`.
AwqSearchResult awq_search_group(const std::vector<AwqScaledLinear>& linears, const std::vector<float>& x_mean,
                                 const IntQuantSpec& spec, const AwqOptions& opt);

// Per (row, group) clipping ratio in [clip_min_ratio, 1] minimising the
// layer's output error ||(W - Q) X||^2 restricted to the group, computed
// from the Gram matrix G = X^T X of the layer input ([in, in], row-major).
std::vector<float> awq_search_clip(const Tensor& w, const IntQuantSpec& spec, const std::vector<double>& gram,
                                   const AwqOptions& opt);

}  // namespace llmq
