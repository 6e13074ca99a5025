#include "quant/methods/smoothquant.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace llmq {

std::vector<float> smoothquant_factors(const std::vector<float>& act_max, const std::vector<float>& weight_max,
                                       float alpha) {
  if (act_max.size() != weight_max.size())
    fail("SmoothQuant: {} activation maxima but {} weight columns", act_max.size(), weight_max.size());
  if (!(alpha >= 0.0f && alpha <= 1.0f)) fail("SmoothQuant: alpha must lie in [0, 1], got {}", alpha);
  std::vector<float> s(act_max.size(), 1.0f);
  for (size_t j = 0; j < s.size(); ++j) {
    const double a = act_max[j], w = weight_max[j];
    if (!(a > 0.0) || !(w > 0.0)) continue;
    const double f = std::pow(a, double(alpha)) / std::pow(w, 1.0 - double(alpha));
    s[j] = float(std::clamp(f, double(kMinSmoothFactor), double(kMaxSmoothFactor)));
  }
  return s;
}

void accumulate_column_max_abs(const float* W, int64_t rows, int64_t cols, std::vector<float>& m) {
  if (m.empty()) m.assign(size_t(cols), 0.0f);
  if (int64_t(m.size()) != cols) fail("column maxima of width {} for a weight of {} columns", m.size(), cols);
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t j = 0; j < cols; ++j) {
    float v = m[size_t(j)];
    for (int64_t i = 0; i < rows; ++i) v = std::max(v, std::fabs(W[i * cols + j]));
    m[size_t(j)] = v;
  }
}

void scale_columns(float* W, int64_t rows, int64_t cols, const float* s) {
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) W[i * cols + j] *= s[j];
}

void divide_rows(float* W, int64_t rows, int64_t cols, const float* s) {
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) W[i * cols + j] /= s[i];
}

double max_over_median(const std::vector<float>& channel_max) {
  if (channel_max.empty()) return 0.0;
  std::vector<float> v(channel_max);
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + long(mid), v.end());
  double median = v[mid];
  if (v.size() % 2 == 0) median = 0.5 * (median + double(*std::max_element(v.begin(), v.begin() + long(mid))));
  const double mx = *std::max_element(channel_max.begin(), channel_max.end());
  return median > 0.0 ? mx / median : 0.0;
}

}  // namespace llmq
