#include "quant/methods/gram_factor.h"

#include <algorithm>

#include "util/error.h"

extern "C" {
// LAPACK pivoted Cholesky, Fortran calling convention (OpenBLAS exports it).
void dpstrf_(const char* uplo, const int* n, double* a, const int* lda, int* piv, int* rank, const double* tol,
             double* work, int* info);
}

namespace llmq {

GramFactor low_rank_gram_factor(const std::vector<double>& g, int64_t n, double max_rank_fraction,
                                double relative_tolerance) {
  if (n <= 0 || int64_t(g.size()) != n * n) fail("Gram factor: {} values for width {}", g.size(), n);
  GramFactor out;
  out.n = n;
  double trace = 0;
  for (int64_t i = 0; i < n; ++i) trace += g[size_t(i * n + i)];
  if (!(trace > 0)) return out;  // all-zero inputs: the caller keeps G
  // Every left-out pivot is below tol, so the residual's trace is below n * tol.
  const double tol = relative_tolerance * trace / double(n);
  std::vector<double> a(g);  // symmetric: row-major and column-major agree
  std::vector<int> piv(static_cast<size_t>(n));
  std::vector<double> work(static_cast<size_t>(2 * n));
  const int nn = int(n);
  int rank = 0, info = 0;
  dpstrf_("L", &nn, a.data(), &nn, piv.data(), &rank, &tol, work.data(), &info);
  if (info < 0) fail("Gram factor: LAPACK dpstrf rejected argument {}", -info);
  if (double(rank) > max_rank_fraction * double(n)) return out;
  // P^T G P = L L^T with L lower (column-major, element (i, k) at i + k n): G = (P L)(P L)^T,
  // and row i of L belongs to input channel piv[i] - 1.
  out.rank = rank;
  out.f.assign(size_t(n * rank), 0.0f);
  for (int64_t k = 0; k < rank; ++k)
    for (int64_t i = k; i < n; ++i) out.f[size_t(int64_t(piv[size_t(i)] - 1) * rank + k)] = float(a[size_t(i + k * n)]);
  return out;
}

}  // namespace llmq
