#include "quant/methods/gptq_ggml.h"

#include "quant/formats/ggml/ggml_quants.h"
#include "quant/formats/ggml/column_codec.h"
#include "quant/methods/gptq_sweep.h"
#include "quant/methods/hessian_inverse.h"
#include "util/error.h"

namespace llmq {

namespace {
constexpr int64_t kSuperBlock = 256;
}

bool gptq_supports_ggml_type(ggml::GgmlType type) { return ggml::ColumnCodec::supports(type); }

std::vector<uint8_t> gptq_quantize_ggml(const Tensor& w, std::vector<double> h, ggml::GgmlType type,
                                        const float* importance, const GptqOptions& opt, GptqStats* stats) {
  if (w.shape.size() != 2) fail("GPTQ needs a 2-D weight, got {}", shape_str(w.shape));
  const int64_t m = w.rows(), n = w.cols();
  if (!gptq_supports_ggml_type(type)) fail("GPTQ cannot write {} (only Q2_K..Q6_K and IQ4_XS)", ggml::type_name(type));
  if (n % kSuperBlock != 0) fail("GPTQ into {}: rows of {} values are not a multiple of {}", ggml::type_name(type), n, kSuperBlock);
  if (int64_t(h.size()) != n * n) fail("GPTQ: Hessian has {} entries, expected {}x{}", h.size(), n, n);
  if (opt.block_size <= 0) fail("GPTQ: block size must be positive");
  const size_t row_bytes = ggml::row_size(type, n), block_bytes = ggml::row_size(type, kSuperBlock);
  std::vector<uint8_t> out(row_bytes * size_t(m));
  GptqStats st;

  // The scale search weighs each column's error by how strongly the column is driven: the imatrix's
  // entry when given, else the same statistic from H (its diagonal, the inputs' mean squares).
  std::vector<float> diag;
  if (!importance) {
    diag.resize(size_t(n));
    for (int64_t c = 0; c < n; ++c) diag[size_t(c)] = float(h[size_t(c * n + c)]);
    importance = diag.data();
  }
  std::vector<float> wt;
  st.dead_columns = gptq_columns(w, h, wt);
  HessianInverseResult hinv = hessian_inverse_cholesky(std::move(h), n, opt.damp_percent);
  st.damp_percent = hinv.damp_percent;
  st.retries = hinv.retries;
  st.rtn_fallback = hinv.identity_fallback;
  st.warning = hinv.warning;
  if (hinv.identity_fallback) {
    ggml::quantize_rows(type, w.data.data(), out.data(), m, n, importance);
    if (stats) *stats = st;
    return out;
  }

  ggml::ColumnCodec codec(type, m);
  auto block_of = [&](int64_t r, int64_t b) { return out.data() + size_t(r) * row_bytes + size_t(b) * block_bytes; };
  auto at_column = [&](int64_t j, int64_t r0, int64_t r1) {
    if (j % kSuperBlock != 0) return;
    const int64_t b = j / kSuperBlock;
    float x[kSuperBlock];
    for (int64_t r = r0; r < r1; ++r) {
      if (b > 0) codec.store(r, block_of(r, b - 1));
      for (int64_t c = 0; c < kSuperBlock; ++c) x[c] = wt[size_t((j + c) * m + r)];
      codec.fit(r, x, importance + j);
    }
  };
  auto quantize = [&](int64_t j, int64_t r, float v) { return codec.quantize(r, int(j % kSuperBlock), v); };
  st.loss = gptq_sweep(wt, m, n, hinv.upper, opt.block_size, at_column, quantize);
  for (int64_t r = 0; r < m; ++r) codec.store(r, block_of(r, n / kSuperBlock - 1));
  if (stats) *stats = st;
  return out;
}

}  // namespace llmq
