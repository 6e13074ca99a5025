#pragma once
// The column sweep GPTQ shares across output layouts (integer groups in
// gptq.cpp, ggml k-quant super-blocks in gptq_ggml.cpp): columns are
// quantized one at a time in order, and each column's rounding error, divided
// by the Cholesky factor's diagonal, is taken off the columns after it
// through U (the upper Cholesky factor of H^-1). Columns go in blocks of B:
// inside a block the error reaches the next columns at once, after it the
// rest of the matrix in one product (lazy batch updates).
//
// The layout enters through two callbacks, both called for one thread's
// contiguous slice of output rows [r0, r1) so that they may keep per-row
// state without locks:
//   at_column(j, r0, r1)  before column j is quantized (choose a group's grid
//                         when j starts one, write a finished group out, ...)
//   quantize(j, r, v)     rounds row r's value v of column j; returns what it decodes to.
#include <algorithm>
#include <cstdint>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "model/tensor.h"
#include "runtime/deterministic_gemm.h"

namespace llmq {

// W [m, n] transposed, so that column j of W is the contiguous row j. Inputs
// never active in calibration (zero Hessian diagonal) carry no information
// about the outputs seen: their weights are zeroed, their diagonal set to 1,
// as the reference implementation does. Returns how many there were.
inline int64_t gptq_columns(const Tensor& w, std::vector<double>& h, std::vector<float>& wt) {
  const int64_t m = w.rows(), n = w.cols();
  wt.assign(size_t(n * m), 0.f);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < n; ++c) wt[size_t(c * m + r)] = w.data[size_t(r * n + c)];
  int64_t dead = 0;
  for (int64_t c = 0; c < n; ++c)
    if (h[size_t(c * n + c)] == 0.0) {
      h[size_t(c * n + c)] = 1.0;
      std::fill(wt.begin() + c * m, wt.begin() + (c + 1) * m, 0.0f);
      ++dead;
    }
  return dead;
}

// Runs the sweep over wt [n][m]; returns GPTQ's loss, sum of squared scaled
// errors / 2, added per row in row order so that it does not depend on the
// thread count.
template <class AtColumn, class Quantize>
double gptq_sweep(std::vector<float>& wt, int64_t m, int64_t n, const std::vector<float>& U, int64_t B,
                  AtColumn&& at_column, Quantize&& quantize) {
  std::vector<float> err(static_cast<size_t>(B * m));
  std::vector<double> row_loss(static_cast<size_t>(m), 0.0);
  for (int64_t i1 = 0; i1 < n; i1 += B) {
    const int64_t i2 = std::min(i1 + B, n), count = i2 - i1;
    // Every step inside a block is independent across output rows, so each thread takes a
    // contiguous slice of rows through the whole block: one parallel region per block rather
    // than several per column (cheap regions still cost a barrier and spinning threads).
#pragma omp parallel if (m * count > 32768)
    {
      int64_t r0 = 0, r1 = m;
#ifdef _OPENMP
      const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
      r0 = m * t / nt;
      r1 = m * (t + 1) / nt;
#endif
      for (int64_t j = i1; j < i2; ++j) {
        at_column(j, r0, r1);
        const float d = U[size_t(j * n + j)];
        float* wj = wt.data() + j * m;
        float* ej = err.data() + (j - i1) * m;
        for (int64_t r = r0; r < r1; ++r) {
          ej[r] = (wj[r] - quantize(j, r, wj[r])) / d;
          row_loss[size_t(r)] += 0.5 * double(ej[r]) * double(ej[r]);
        }
        // Spread this column's error over the rest of the block now.
        for (int64_t k = j + 1; k < i2; ++k) {
          const float u = U[size_t(j * n + k)];
          float* wk = wt.data() + k * m;
          for (int64_t r = r0; r < r1; ++r) wk[r] -= u * ej[r];
        }
      }
    }
    // ... and over every column after the block in one product: W[i2:] -= U[i1:i2, i2:]^T Err.
    if (i2 < n)
      runtime::gemm(true, false, n - i2, m, count, -1.0f, U.data() + i1 * n + i2, n, err.data(), m, 1.0f,
                    wt.data() + i2 * m, m);
  }
  double loss = 0;
  for (double l : row_loss) loss += l;
  return loss;
}

}  // namespace llmq
