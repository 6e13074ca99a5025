// The decode kernels against sums worked out in double precision from the
// dequantized values: fused bf16/f16/f32 row dots, and the integer k-quant x
// Q8_K dots (vector code and portable code alike).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/random_values.h"
#include "model/kernels/dot_kernels.h"
#include "model/kernels/kquant_dot.h"
#include "quant/formats/ggml/ggml_quants.h"
#include "quant/formats/ggml/ggml_types.h"
#include "util/half.h"

using namespace llmq;

using llmq::test::gaussian_values;

// Lengths around the vector widths (8, 32) and their tails.
TEST(DotKernels, StoredFloatRowsMatchDoublePrecision) {
  for (int64_t cols : {1, 7, 8, 31, 33, 300, 4096}) {
    const int64_t rows = 5, T = 3;
    std::vector<float> w = gaussian_values(size_t(rows * cols), 1), x = gaussian_values(size_t(T * cols), 2);
    std::vector<uint16_t> wb(w.size()), wh(w.size());
    for (size_t i = 0; i < w.size(); ++i) wb[i] = f32_to_bf16(w[i]), wh[i] = f32_to_f16(w[i]);
    struct Case {
      kernels::RowType type;
      const void* data;
      float (*value)(const std::vector<float>&, const std::vector<uint16_t>&, const std::vector<uint16_t>&, size_t);
    };
    const Case cases[] = {
        {kernels::RowType::F32, w.data(), [](auto& f, auto&, auto&, size_t i) { return f[i]; }},
        {kernels::RowType::BF16, wb.data(), [](auto&, auto& b, auto&, size_t i) { return bf16_to_f32(b[i]); }},
        {kernels::RowType::F16, wh.data(), [](auto&, auto&, auto& h, size_t i) { return f16_to_f32(h[i]); }},
    };
    for (const Case& c : cases) {
      const int64_t ldy = rows + 2;
      std::vector<float> y(size_t(T * ldy), -7.0f);
      kernels::dot_rows(c.type, c.data, rows, cols, x.data(), T, y.data(), ldy);
      for (int64_t t = 0; t < T; ++t)
        for (int64_t r = 0; r < rows; ++r) {
          double want = 0, mag = 0;
          for (int64_t i = 0; i < cols; ++i) {
            const double p = double(c.value(w, wb, wh, size_t(r * cols + i))) * x[size_t(t * cols + i)];
            want += p, mag += std::fabs(p);
          }
          EXPECT_NEAR(y[size_t(t * ldy + r)], want, 1e-5 * mag + 1e-6) << "cols " << cols << " type " << int(c.type);
        }
      EXPECT_EQ(y[size_t(rows)], -7.0f);  // nothing written between rows of Y
    }
  }
}

TEST(DotKernels, KQuantTimesQ8KMatchesTheDequantizedValues) {
  for (ggml::GgmlType type : {ggml::GgmlType::Q2_K, ggml::GgmlType::Q3_K, ggml::GgmlType::Q4_K, ggml::GgmlType::Q5_K,
                              ggml::GgmlType::Q6_K, ggml::GgmlType::Q8_0}) {
    ASSERT_TRUE(kernels::has_q8k_dot(type));
    for (int64_t blocks : {1, 3, 16}) {
      const int64_t n = 256 * blocks;
      // Weights with an offset so that Q4_K's mins matter; activations with outliers.
      std::vector<float> w = gaussian_values(size_t(n), 3, 0.05f), x = gaussian_values(size_t(n), 4);
      for (int64_t i = 0; i < n; ++i) w[size_t(i)] += 0.02f * float(i % 7);
      x[5] = 40.0f;
      std::vector<uint8_t> wq(ggml::row_size(type, n)), xq(ggml::row_size(ggml::GgmlType::Q8_K, n));
      ggml::quantize_rows(type, w.data(), wq.data(), 1, n);
      ggml::quantize_rows(ggml::GgmlType::Q8_K, x.data(), xq.data(), 1, n);
      std::vector<float> wd(static_cast<size_t>(n)), xd(static_cast<size_t>(n));
      ggml::dequantize_row(type, wq.data(), wd.data(), n);
      ggml::dequantize_row(ggml::GgmlType::Q8_K, xq.data(), xd.data(), n);
      double want = 0, mag = 0;
      for (int64_t i = 0; i < n; ++i) want += double(wd[size_t(i)]) * xd[size_t(i)], mag += std::fabs(wd[size_t(i)] * xd[size_t(i)]);
      const float fast = kernels::dot_q8k(type, wq.data(), xq.data(), blocks);
      const float portable = kernels::dot_q8k_portable(type, wq.data(), xq.data(), blocks);
      EXPECT_NEAR(portable, want, 1e-5 * mag) << ggml::type_name(type) << " blocks " << blocks;
      EXPECT_NEAR(fast, want, 1e-5 * mag) << ggml::type_name(type) << " blocks " << blocks;
      EXPECT_NEAR(fast, portable, 1e-5 * mag);
      // And close to the unquantized activations: the error Q8_K adds is small.
      double exact = 0;
      for (int64_t i = 0; i < n; ++i) exact += double(wd[size_t(i)]) * x[size_t(i)];
      EXPECT_NEAR(fast, exact, 0.02 * mag);
    }
  }
}
