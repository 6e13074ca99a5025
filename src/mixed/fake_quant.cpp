#include "mixed/fake_quant.h"

#include <vector>

#include "quant/formats/ggml/ggml_quants.h"
#include "util/error.h"

namespace llmq {

const float* exporter_importance(const GgufTensorSpec& spec, int64_t expert, const ImportanceLookup& importance) {
  if (!importance) return nullptr;
  const std::vector<float>* v = importance(spec.name, spec.is_stacked() ? int(expert) : -1);
  if (!v) return nullptr;
  if (int64_t(v->size()) == spec.row_length()) return v->data();
  if (spec.role == TensorRole::TokenEmbedding) return nullptr;
  fail("importance matrix for {} has {} values per matrix, the tensor has {} columns", spec.name, v->size(),
       spec.row_length());
}

void fake_quantize_rows(const GgufTensorSpec& spec, int64_t expert, ggml::GgmlType type, const float* src, float* dst,
                        int64_t rows, const ImportanceLookup& importance) {
  const int64_t cols = spec.row_length();
  const size_t row_bytes = ggml::row_size(type, cols);
  std::vector<uint8_t> q(row_bytes * size_t(rows));
  ggml::quantize_rows(type, src, q.data(), rows, cols, exporter_importance(spec, expert, importance));
#pragma omp parallel for schedule(static) if (rows * cols >= (1 << 16))
  for (int64_t r = 0; r < rows; ++r) ggml::dequantize_row(type, q.data() + size_t(r) * row_bytes, dst + r * cols, cols);
}

}  // namespace llmq
