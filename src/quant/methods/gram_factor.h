#pragma once
// A low-rank factor of a Gram matrix G = X^T X: G ~= F F^T with F [n, r].
//
// A Gram matrix of T calibration tokens has rank at most T. When T is well
// below the width n (two windows of 512 against a 4096- or 11008-wide input),
// the output error of a weight change D, tr(D G D^T), is ||D F||^2 and costs
// out * n * r instead of out * n^2: AWQ evaluates it at every grid point, so
// at 7B this is the difference between hours and minutes on a small machine.
//
// F comes from LAPACK's pivoted Cholesky (dpstrf), which stops once every
// remaining pivot is below a tolerance; what it leaves out has a trace of at
// most `relative_tolerance` x trace(G).
#include <cstdint>
#include <vector>

namespace llmq {

struct GramFactor {
  int64_t n = 0;
  int64_t rank = 0;
  std::vector<float> f;  // [n, rank] row-major; empty when the factor would not be cheaper than G
};

// g: n x n symmetric, row-major. Returns an empty factor when the rank found
// exceeds max_rank_fraction x n (then the full matrix is the cheaper form).
GramFactor low_rank_gram_factor(const std::vector<double>& g, int64_t n, double max_rank_fraction = 0.75,
                                double relative_tolerance = 1e-7);

}  // namespace llmq
