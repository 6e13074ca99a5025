#pragma once
// Non-finite weights (NaN, Inf) are refused where a quantizer reads them:
// quantized, a NaN becomes a zero or a NaN block and the file looks healthy.
// `--allow-nonfinite` turns the error into a pass-through for users who know.
#include <cstddef>
#include <string>

namespace llmq {

void set_allow_nonfinite(bool allow);
bool allow_nonfinite();

// Throws llmq::Error "FILE: tensor NAME holds N non-finite values (first at
// index I) ..." unless --allow-nonfinite was given.
void check_finite(const float* v, size_t n, const std::string& file, const std::string& tensor);

}  // namespace llmq
