#pragma once
// The factor GPTQ works with: the upper Cholesky factor U of H^-1
// (H^-1 = U^T U), from a dampened Hessian H + lambda I. Uses LAPACK
// (dpotrf/dtrtri, shipped inside OpenBLAS) in double precision, in place:
// the Hessian plus the float result is all the memory it takes (at 70B width,
// 28672 inputs, 6.6 + 3.3 GB where a work copy would add 6.6 GB more).
//
// A Hessian that is singular or badly conditioned (dead inputs, too few
// calibration tokens, an outlier channel) makes a factorization fail; then
// the dampening grows and the factorization is retried, with a warning,
// rather than failing the whole run.
#include <cstdint>
#include <string>
#include <vector>

namespace llmq {

struct HessianInverseResult {
  std::vector<float> upper;  // n x n row-major, U[i][j] for j >= i, zeros below
  double damp_percent = 0;   // dampening finally used, as a fraction of mean(diag H)
  int retries = 0;           // factorizations that failed before this one
  bool identity_fallback = false;  // every dampening failed: U = I / sqrt(mean diag), i.e. plain RTN
  std::string warning;       // non-empty when dampening had to grow or fell back
};

// h: n x n symmetric, row-major, consumed (move it in; dead diagonals set to 1
// are the caller's job). damp_percent: lambda = damp_percent * mean(diag(H)).
HessianInverseResult hessian_inverse_cholesky(std::vector<double> h, int64_t n, double damp_percent);

}  // namespace llmq
