#pragma once
// Reproducible random test inputs.
#include <cstdint>
#include <random>
#include <vector>

namespace llmq::test {

// n values drawn from N(0, sigma^2) with a fixed seed.
inline std::vector<float> gaussian_values(size_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sigma);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

}  // namespace llmq::test
