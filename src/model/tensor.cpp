#include "model/tensor.h"

#include <cstring>

#include "model/kernels/dot_kernels.h"
#include "util/error.h"

namespace llmq {

void RowSource::dot_rows(int64_t r0, int64_t n, const ActivationRows& X, float* Y, int64_t ldy) const {
  thread_local std::vector<float> buf;  // a few rows: stays in the thread's cache while the dots read it
  buf.resize(size_t(n * X.cols));
  read_rows(r0, n, buf.data());
  kernels::dot_rows(kernels::RowType::F32, buf.data(), n, X.cols, X.f32, X.T, Y, ldy);
}

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
