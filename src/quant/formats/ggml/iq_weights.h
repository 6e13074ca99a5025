#pragma once
// Weights of the squared error the i-quant and ternary searches minimise,
// for one block of n values (256, or 32 for IQ4_NL).
//
// w_i = importance_i * sqrt(sigma^2 + x_i^2), sigma^2 being twice the
// block's mean square: the importance (imatrix: mean squared activation of
// the column) says which columns the layer's output depends on, and the
// second factor leans towards large weights without ignoring small ones (the
// weighting the k-quants use too, which ggml found to help perplexity).
// Without an importance vector, or for a span of `span` values whose
// importance is all zero (columns never activated during calibration), the
// importance counts as 1 so the span is still fitted.
//
// Private to the ggml format code.
#include <algorithm>
#include <cmath>

namespace llmq::ggml::iq {

inline void importance_weights(const float* x, int n, const float* importance, int span, float* w) {
  double sum_x2 = 0;
  for (int i = 0; i < n; ++i) sum_x2 += double(x[i]) * x[i];
  const float sigma2 = float(2 * sum_x2 / n);
  for (int begin = 0; begin < n; begin += span) {
    const int end = std::min(n, begin + span);
    bool any = false;
    if (importance)
      for (int i = begin; i < end && !any; ++i) any = importance[i] > 0;
    for (int i = begin; i < end; ++i) {
      const float imp = any ? std::max(importance[i], 0.f) : 1.f;
      w[i] = imp * std::sqrt(sigma2 + x[i] * x[i]);
    }
  }
}

}  // namespace llmq::ggml::iq
