#include "mixed/fast_sensitivity.h"

#include "mixed/fake_quant.h"

#include <algorithm>
#include <vector>

namespace llmq {

double weighted_relative_error(const float* x, const float* q, int64_t rows, int64_t cols, const float* importance) {
  // Rows in parallel, their sums added in row order: the same value for any thread count.
  std::vector<double> row_err(static_cast<size_t>(rows)), row_sig(static_cast<size_t>(rows));
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    double er = 0, sr = 0;
    for (int64_t j = 0; j < cols; ++j) {
      const double v = x[r * cols + j], d = v - double(q[r * cols + j]);
      const double m = importance ? double(importance[j]) : 1.0;
      er += m * d * d;
      sr += m * v * v;
    }
    row_err[size_t(r)] = er;
    row_sig[size_t(r)] = sr;
  }
  double err = 0, sig = 0;
  for (int64_t r = 0; r < rows; ++r) {
    err += row_err[size_t(r)];
    sig += row_sig[size_t(r)];
  }
  return sig > 0 ? err / sig : 0.0;
}

std::vector<int64_t> sensitivity_sample_rows(int64_t rows, int64_t cols, int64_t max_values) {
  const int64_t stride = std::max<int64_t>(1, (rows * cols + max_values - 1) / std::max<int64_t>(max_values, 1));
  std::vector<int64_t> picked;
  for (int64_t r = 0; r < rows; r += stride) picked.push_back(r);
  return picked;
}

TypeSensitivity fast_sensitivity(const GgufTensorSpec& spec, const std::vector<float>& values, ggml::GgmlType type,
                                 const ImportanceLookup& importance, int64_t max_values) {
  const int64_t cols = spec.row_length();
  const int64_t rows = spec.n_rows() / spec.n_experts();
  const std::vector<int64_t> picked = sensitivity_sample_rows(rows, cols, max_values);
  const int64_t n = int64_t(picked.size());
  const bool all = n == rows;
  std::vector<float> sample(all ? 0 : size_t(n * cols)), deq(size_t(n * cols));
  TypeSensitivity out;
  double sum = 0;
  for (int64_t e = 0; e < spec.n_experts(); ++e) {
    const float* w = values.data() + size_t(e * rows * cols);
    if (!all) {  // rows are quantized independently: the sampled rows' error estimates the tensor's
      for (int64_t i = 0; i < n; ++i) std::copy_n(w + picked[size_t(i)] * cols, cols, sample.data() + i * cols);
      w = sample.data();
    }
    fake_quantize_rows(spec, e, type, w, deq.data(), n, importance);
    const float* imp = exporter_importance(spec, e, importance);
    const double rel = weighted_relative_error(w, deq.data(), n, cols, imp);
    if (spec.is_stacked()) out.experts.push_back(rel);
    sum += rel;
  }
  out.value = sum / double(spec.n_experts());
  return out;
}

}  // namespace llmq
