// The column codec and GPTQ into k-quant and IQ4_XS layouts
// (quant/formats/ggml/column_codec.h, quant/methods/gptq_ggml.h): the
// values the codec returns are exactly what the format's decoder reads back;
// with uncorrelated inputs GPTQ has nothing to feed back and writes the row
// quantizer's bytes; with correlated inputs its output error is lower.
#include <gtest/gtest.h>

#include <random>

#include "quant_kquant/kquant_test_support.h"
#include "quant/formats/ggml/column_codec.h"
#include "quant/methods/gptq.h"
#include "quant/methods/gptq_ggml.h"
#include "util/error.h"

using namespace llmq;
using kquant_test::GgmlType;

namespace {

const GgmlType kTypes[] = {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_XS};

Tensor matrix(int64_t rows, int64_t cols, uint32_t seed) {
  Tensor w;
  w.shape = {rows, cols};
  w.data = kquant_test::gaussian(size_t(rows * cols), seed, 0.02f);
  return w;
}

std::vector<float> dequantized(GgmlType t, const std::vector<uint8_t>& bytes, int64_t rows, int64_t cols) {
  std::vector<float> y(size_t(rows * cols));
  const size_t rb = ggml::row_size(t, cols);
  for (int64_t r = 0; r < rows; ++r) ggml::dequantize_row(t, bytes.data() + r * rb, y.data() + r * cols, cols);
  return y;
}

// Inputs whose columns are strongly correlated (x = z A, A mixing neighbours), and H = X^T X.
std::vector<double> correlated_hessian(int64_t n, int64_t tokens, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> z(0, 1);
  std::vector<double> x(size_t(tokens * n));
  for (int64_t t = 0; t < tokens; ++t) {
    double carry = 0;
    for (int64_t c = 0; c < n; ++c) {
      carry = 0.8 * carry + z(rng);  // each input leans on the one before it
      x[size_t(t * n + c)] = carry * (1.0 + double(c % 7));  // and inputs differ in scale
    }
  }
  std::vector<double> h(size_t(n * n), 0.0);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) h[size_t(i * n + j)] += x[size_t(t * n + i)] * x[size_t(t * n + j)];
  return h;
}

}  // namespace

TEST(ColumnCodec, ReturnedValuesAreWhatTheDecoderReads) {
  for (GgmlType t : kTypes) {
    SCOPED_TRACE(ggml::type_name(t));
    const std::vector<float> x = kquant_test::gaussian(256, 11);
    const std::vector<float> moved = kquant_test::gaussian(256, 12, 0.3f);
    ggml::ColumnCodec codec(t, 2);
    codec.fit(1, x.data(), nullptr);
    std::vector<float> returned(256);
    // Values moved after the fit (as GPTQ moves them), visited in a scrambled order.
    for (int k = 0; k < 256; ++k) {
      const int i = (k * 37) % 256;
      returned[size_t(i)] = codec.quantize(1, i, x[size_t(i)] + moved[size_t(i)]);
    }
    std::vector<uint8_t> block(ggml::row_size(t, 256));
    codec.store(1, block.data());
    std::vector<float> decoded(256);
    ggml::dequantize_row(t, block.data(), decoded.data(), 256);
    for (int i = 0; i < 256; ++i) ASSERT_EQ(decoded[size_t(i)], returned[size_t(i)]) << "value " << i;
    // ... and they are levels near the values asked for (within the sub-block's range).
    EXPECT_LT(kquant_test::relative_rmse(x, returned), 0.6);
  }
}

TEST(ColumnCodec, UncorrelatedInputsGiveTheRowQuantizersBytes) {
  // H = I: nothing to feed back, and the scale search weighs every column alike, as it does without
  // an imatrix. (Q2_K and Q3_K are left out: their row quantizer rescales the row afterwards.)
  const int64_t rows = 24, cols = 512;
  const Tensor w = matrix(rows, cols, 3);
  std::vector<double> eye(size_t(cols * cols), 0.0);
  for (int64_t i = 0; i < cols; ++i) eye[size_t(i * cols + i)] = 1.0;
  for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_XS}) {
    SCOPED_TRACE(ggml::type_name(t));
    GptqStats st;
    const std::vector<uint8_t> g = gptq_quantize_ggml(w, eye, t, nullptr, {}, &st);
    std::vector<uint8_t> rtn(ggml::row_size(t, cols) * rows);
    ggml::quantize_rows(t, w.data.data(), rtn.data(), rows, cols, nullptr);
    EXPECT_FALSE(st.rtn_fallback);
    EXPECT_EQ(g, rtn);
  }
}

TEST(ColumnCodec, GptqLowersTheOutputErrorOfCorrelatedInputs) {
  const int64_t rows = 32, cols = 512;
  const Tensor w = matrix(rows, cols, 5);
  const std::vector<double> h = correlated_hessian(cols, 2048, 9);
  std::vector<float> diag(static_cast<size_t>(cols));
  for (int64_t c = 0; c < cols; ++c) diag[size_t(c)] = float(h[size_t(c * cols + c)]);
  for (GgmlType t : kTypes) {
    SCOPED_TRACE(ggml::type_name(t));
    const std::vector<uint8_t> g = gptq_quantize_ggml(w, h, t, nullptr);
    std::vector<uint8_t> rtn(ggml::row_size(t, cols) * rows);
    ggml::quantize_rows(t, w.data.data(), rtn.data(), rows, cols, diag.data());  // the same importance, no feedback
    Tensor qg = w, qr = w;
    qg.data = dequantized(t, g, rows, cols);
    qr.data = dequantized(t, rtn, rows, cols);
    const double eg = output_error_from_gram(w, qg, h), er = output_error_from_gram(w, qr, h);
    // Measured 0.40 (IQ4_XS) to 0.59 (Q2_K) of the row quantizer's error on these inputs.
    EXPECT_LT(eg, 0.7 * er) << "GPTQ " << eg << " row quantizer " << er;
  }
}

TEST(ColumnCodec, RefusesOtherTypesAndWidths) {
  const Tensor w = matrix(4, 512, 1), narrow = matrix(4, 320, 1);
  std::vector<double> h(512 * 512, 0.0), hn(320 * 320, 0.0);
  for (int i = 0; i < 512; ++i) h[size_t(i * 512 + i)] = 1;
  for (int i = 0; i < 320; ++i) hn[size_t(i * 320 + i)] = 1;
  EXPECT_FALSE(gptq_supports_ggml_type(GgmlType::Q8_0));
  EXPECT_THROW(gptq_quantize_ggml(w, h, GgmlType::Q8_0, nullptr), Error);
  EXPECT_THROW(gptq_quantize_ggml(narrow, hn, GgmlType::Q4_K, nullptr), Error);
  EXPECT_THROW(gptq_quantize_ggml(w, hn, GgmlType::Q4_K, nullptr), Error);  // Hessian of another width
}
