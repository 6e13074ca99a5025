#pragma once
// Encode a run of values at one scale into element codes, and measure the
// (importance-weighted) squared error of doing so. Shared by the block
// formats, which differ only in how they choose and store the scale.
#include <cstdint>

namespace llmq::fp {

// E2M1 codes of x[j] / scale (scale > 0), one nibble per byte.
void encode_e2m1_group(const float* x, int64_t n, float scale, uint8_t* codes);
// sum_j w_j (x_j - scale * e2m1(x_j / scale))^2; w = importance or 1.
double e2m1_group_error(const float* x, const float* importance, int64_t n, float scale);

// E4M3 codes of x[j] / scale (scale > 0), saturating at +-448.
void encode_e4m3_group(const float* x, int64_t n, float scale, uint8_t* codes);
double e4m3_group_error(const float* x, const float* importance, int64_t n, float scale);

// Largest |x[j]|.
float max_abs(const float* x, int64_t n);

}  // namespace llmq::fp
