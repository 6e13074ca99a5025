#include "model/tensor.h"

#include <cstring>

#include "util/error.h"

namespace llmq {

void Tensor::read_rows(int64_t r0, int64_t n, float* out) const {
  if (r0 < 0 || n < 0 || r0 + n > rows()) fail("rows [{}, {}) outside a tensor of {} rows", r0, r0 + n, rows());
  if (lazy()) rows_source->read_rows(r0, n, out);
  else std::memcpy(out, data.data() + r0 * cols(), size_t(n * cols()) * sizeof(float));
}

float Tensor::at(int64_t r, int64_t c) const {
  if (!lazy()) return data[size_t(r * cols() + c)];
  std::vector<float> row(static_cast<size_t>(cols()));
  rows_source->read_rows(r, 1, row.data());
  return row[size_t(c)];
}

void Tensor::materialize() {
  if (!lazy()) return;
  std::vector<float> d(static_cast<size_t>(numel()));
  rows_source->read_rows(0, rows(), d.data());
  data = std::move(d);
  rows_source.reset();
}

}  // namespace llmq
