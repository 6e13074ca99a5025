#pragma once
// Shared helpers for the i-quant and ternary tests: whole-row round trips
// through the public dispatch, error measures, and the fixture rows of the
// k-quant tests.
#include <cstdint>
#include <vector>

#include "quant/formats/ggml/ggml_quants.h"
#include "quant_kquant/kquant_test_support.h"

namespace iq_test {

using kquant_test::gaussian;
using kquant_test::model_path;
using kquant_test::read_bf16_rows;
using kquant_test::real_weight_sample;
using kquant_test::relative_rmse;
using kquant_test::row_shrink;
using kquant_test::Rows;
using kquant_test::weighted_relative_mse;
using llmq::ggml::GgmlType;

// Quantise rows of n_cols values (one importance vector for every row) and
// dequantise them again.
inline std::vector<float> round_trip(GgmlType t, const std::vector<float>& x, int64_t n_cols,
                                     const float* imatrix = nullptr) {
  const int64_t rows = int64_t(x.size()) / n_cols;
  std::vector<uint8_t> q(llmq::ggml::row_size(t, n_cols) * size_t(rows));
  llmq::ggml::quantize_rows(t, x.data(), q.data(), rows, n_cols, imatrix);
  std::vector<float> y(x.size());
  const size_t row_bytes = llmq::ggml::row_size(t, n_cols);
  for (int64_t r = 0; r < rows; ++r)
    llmq::ggml::dequantize_row(t, q.data() + size_t(r) * row_bytes, y.data() + r * n_cols, n_cols);
  return y;
}

inline std::vector<uint8_t> quantize(GgmlType t, const std::vector<float>& x, int64_t n_cols,
                                     const float* imatrix = nullptr) {
  std::vector<uint8_t> q(llmq::ggml::row_size(t, n_cols) * (x.size() / size_t(n_cols)));
  llmq::ggml::quantize_rows(t, x.data(), q.data(), int64_t(x.size()) / n_cols, n_cols, imatrix);
  return q;
}

// Heavy-tailed importance, as real activation statistics are.
inline std::vector<float> skewed_importance(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::lognormal_distribution<float> dist(0.f, 1.5f);
  std::vector<float> imp(static_cast<size_t>(n));
  for (auto& v : imp) v = dist(rng);
  return imp;
}

}  // namespace iq_test
