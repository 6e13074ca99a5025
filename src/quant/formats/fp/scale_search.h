#pragma once
// How the block formats pick a scale per group (or per row / tensor).
//
// max_abs: the usual rule, the group's largest magnitude maps to the largest
//   element value (for MXFP4 the OCP rule 2^(floor(log2 amax) - 2)).
// search:  try candidate scales around the max-abs one (multiples 0.70 ..
//   1.10 of it, each rounded to what the scale format can hold) and keep
//   the one with the lowest squared error, weighted per column by an
//   optional importance vector. The max-abs scale is always a candidate and
//   wins ties, so search is never worse than max_abs on the weighted error.
#include <array>
#include <cstdint>

namespace llmq::fp {

enum class ScaleRule { max_abs, search };

// Multipliers of the max-abs scale tried by ScaleRule::search, in order
// 0.70, 0.72, ..., 1.10 (1.0 included).
inline constexpr int kSearchFactorCount = 21;
const std::array<float, kSearchFactorCount>& search_factors();

// sum_j w_j (x_j - y_j)^2, with w_j = importance[j] or 1 when importance is null.
double weighted_sq_error(const float* x, const float* y, const float* importance, int64_t n);

}  // namespace llmq::fp
