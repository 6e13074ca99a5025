#include "quant/formats/fp/scale_search.h"

namespace llmq::fp {

const std::array<float, kSearchFactorCount>& search_factors() {
  static const std::array<float, kSearchFactorCount> factors = [] {
    std::array<float, kSearchFactorCount> f{};
    for (int i = 0; i < kSearchFactorCount; ++i) f[i] = 0.70f + 0.02f * float(i);
    f[15] = 1.0f;  // exactly, so that the max-abs scale itself is among the candidates
    return f;
  }();
  return factors;
}

double weighted_sq_error(const float* x, const float* y, const float* importance, int64_t n) {
  double sum = 0.0;
  for (int64_t j = 0; j < n; ++j) {
    const double d = double(x[j]) - double(y[j]);
    sum += (importance ? double(importance[j]) : 1.0) * d * d;
  }
  return sum;
}

}  // namespace llmq::fp
