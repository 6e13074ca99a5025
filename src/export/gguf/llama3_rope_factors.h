#pragma once
// llama3 rope scaling in GGUF. llama.cpp has no llama3 scaling type: its
// converter stores the per-frequency divisors in a "rope_freqs.weight"
// tensor (head_dim/2 values), which the llama graph applies to every layer.
#include <cstdint>
#include <vector>

#include "model/config.h"

namespace llmq {

// The divisor of each rotary frequency that cfg's llama3 scaling implies
// (1 for short wavelengths, `factor` for long ones, a ramp between), as the
// converter computes it.
std::vector<float> llama3_rope_freq_factors(const ModelConfig& cfg);

// Scaling parameters whose factors equal `factors` for the rotary
// frequencies of (rope_theta, head_dim). The factors determine
// low_freq_factor and high_freq_factor only relative to
// original_max_position, so that one is taken as given. Exact when at least
// two frequencies fall on the ramp, as in every released llama3 model.
RopeScaling llama3_scaling_from_factors(const std::vector<float>& factors, double rope_theta, int64_t head_dim,
                                        int64_t original_max_position = 8192);

}  // namespace llmq
