#include "quant/methods/hessian_inverse.h"

#include <cmath>

#include <fmt/format.h>

extern "C" {
// LAPACK, Fortran calling convention (OpenBLAS exports it).
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dpotri_(const char* uplo, const int* n, double* a, const int* lda, int* info);
}

namespace llmq {

bool cholesky_in_place(std::vector<double>& a, int64_t n) {
  const int nn = int(n);
  int info = 0;
  dpotrf_("L", &nn, a.data(), &nn, &info);
  return info == 0;
}

namespace {

// One attempt: chol(H + lambda I) -> inverse -> chol(inverse, upper). False on failure.
bool try_factor(const std::vector<double>& h, int64_t n, double lambda, std::vector<float>& upper) {
  std::vector<double> a(h);
  for (int64_t i = 0; i < n; ++i) a[size_t(i * n + i)] += lambda;
  const int nn = int(n);
  int info = 0;
  // Symmetric, so row-major and column-major agree; work on LAPACK's lower triangle (column-major).
  dpotrf_("L", &nn, a.data(), &nn, &info);
  if (info != 0) return false;
  dpotri_("L", &nn, a.data(), &nn, &info);
  if (info != 0) return false;
  // Column-major element (row, col) sits at row + col * n: mirror the lower triangle into the upper one.
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = j + 1; i < n; ++i) a[size_t(j + i * n)] = a[size_t(i + j * n)];
  dpotrf_("U", &nn, a.data(), &nn, &info);  // H^-1 = U^T U, U upper (column-major)
  if (info != 0) return false;
  upper.assign(size_t(n * n), 0.0f);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i <= j; ++i) {
      const double u = a[size_t(i + j * n)];  // U(i, j), column-major
      if (!std::isfinite(u)) return false;
      upper[size_t(i * n + j)] = float(u);
    }
  for (int64_t i = 0; i < n; ++i)
    if (!(upper[size_t(i * n + i)] > 0.0f)) return false;
  return true;
}

}  // namespace

HessianInverseResult hessian_inverse_cholesky(const std::vector<double>& h, int64_t n, double damp_percent) {
  HessianInverseResult r;
  double mean_diag = 0;
  for (int64_t i = 0; i < n; ++i) mean_diag += h[size_t(i * n + i)];
  mean_diag /= double(std::max<int64_t>(n, 1));
  if (!(mean_diag > 0) || !std::isfinite(mean_diag)) mean_diag = 1.0;
  double pct = damp_percent;
  constexpr int kMaxRetries = 8;
  for (int attempt = 0; attempt <= kMaxRetries; ++attempt) {
    if (try_factor(h, n, pct * mean_diag, r.upper)) {
      r.damp_percent = pct;
      r.retries = attempt;
      if (attempt > 0)
        r.warning = fmt::format("Hessian not positive definite at dampening {:g}; succeeded at {:g}", damp_percent, pct);
      return r;
    }
    pct = pct <= 0 ? 0.01 : pct * 4;  // 0.01 -> 0.04 -> 0.16 -> ... of mean(diag H)
  }
  // Still failing (non-finite inputs): the identity metric makes GPTQ plain RTN.
  r.identity_fallback = true;
  r.retries = kMaxRetries + 1;
  r.damp_percent = pct;
  r.upper.assign(size_t(n * n), 0.0f);
  for (int64_t i = 0; i < n; ++i) r.upper[size_t(i * n + i)] = 1.0f;
  r.warning = "Hessian could not be factored at any dampening; falling back to round-to-nearest";
  return r;
}

}  // namespace llmq
