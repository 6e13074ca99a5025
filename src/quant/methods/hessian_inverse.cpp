#include "quant/methods/hessian_inverse.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

extern "C" {
// LAPACK, Fortran calling convention (OpenBLAS exports it).
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dtrtri_(const char* uplo, const char* diag, const int* n, double* a, const int* lda, int* info);
}

namespace llmq {

namespace {

// Works on the reversed matrix A = J H J (J the exchange matrix: reversing the
// row-major array reverses rows and columns). With A + lambda I = R R^T (R
// lower), H + lambda I = K K^T for the upper K = J R J, so
// (H + lambda I)^-1 = K^-T K^-1 and U = K^-1 = J R^-1 J: one Cholesky and
// one triangular inverse, in place, where chol(inv(chol(H))) needs three
// factorizations and a second n x n matrix. U is the unique upper factor with
// a positive diagonal, so it is the same U as GPTQ's reference computes.
//
// LAPACK only touches the lower triangle (column-major), so a failed attempt
// is undone from the untouched upper triangle and the saved diagonal.
class ReversedFactor {
 public:
  ReversedFactor(std::vector<double> h, int64_t n) : a_(std::move(h)), n_(n), diag_(static_cast<size_t>(n)) {
    std::reverse(a_.begin(), a_.end());
    for (int64_t i = 0; i < n; ++i) diag_[size_t(i)] = a_[size_t(i * n + i)];
  }

  // False when H + lambda I is not (numerically) positive definite or the result is not finite.
  bool try_factor(double lambda, std::vector<float>& upper) {
    const int64_t n = n_;
    for (int64_t i = 0; i < n; ++i) a_[size_t(i * n + i)] = diag_[size_t(i)] + lambda;
    const int nn = int(n);
    int info = 0;
    dpotrf_("L", &nn, a_.data(), &nn, &info);
    if (info == 0) dtrtri_("L", "N", &nn, a_.data(), &nn, &info);
    if (info != 0) {
      restore_lower();
      return false;
    }
    // U(i, j) = R^-1(n-1-i, n-1-j); R^-1 lower, column-major: element (r, c) at r + c n.
    upper.assign(size_t(n * n), 0.0f);
    bool ok = true;
    for (int64_t i = 0; i < n && ok; ++i) {
      for (int64_t j = i; j < n; ++j) {
        const double u = a_[size_t((n - 1 - i) + (n - 1 - j) * n)];
        if (!std::isfinite(u)) ok = false;
        upper[size_t(i * n + j)] = float(u);
      }
      if (!(upper[size_t(i * n + i)] > 0.0f)) ok = false;
    }
    if (!ok) {
      restore_lower();
      upper.clear();
    }
    return ok;
  }

 private:
  void restore_lower() {
    const int64_t n = n_;
    for (int64_t c = 0; c < n; ++c)
      for (int64_t r = c + 1; r < n; ++r) a_[size_t(r + c * n)] = a_[size_t(c + r * n)];
  }

  std::vector<double> a_;
  int64_t n_;
  std::vector<double> diag_;
};

}  // namespace

HessianInverseResult hessian_inverse_cholesky(std::vector<double> h, int64_t n, double damp_percent) {
  HessianInverseResult r;
  double mean_diag = 0;
  for (int64_t i = 0; i < n; ++i) mean_diag += h[size_t(i * n + i)];
  mean_diag /= double(std::max<int64_t>(n, 1));
  if (!(mean_diag > 0) || !std::isfinite(mean_diag)) mean_diag = 1.0;
  double pct = damp_percent;
  constexpr int kMaxRetries = 8;
  ReversedFactor factor(std::move(h), n);
  for (int attempt = 0; attempt <= kMaxRetries; ++attempt) {
    if (factor.try_factor(pct * mean_diag, r.upper)) {
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
