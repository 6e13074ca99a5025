#pragma once
// Rotary position embeddings as Hugging Face applies them ("neox" style:
// the head is split in halves that rotate together), with the default,
// linear and llama3 frequency scalings.
#include <cstdint>
#include <vector>

#include "model/config.h"

namespace llmq {

class Rope {
 public:
  explicit Rope(const ModelConfig& cfg);
  // Rotates n_heads heads of head_dim values for each of T rows at positions pos0.. in place.
  // x is [T, n_heads * head_dim].
  void apply(float* x, int64_t T, int64_t n_heads, int64_t pos0) const;
  // The transpose of apply() (rotation by minus the angle): carries a
  // gradient with respect to the rotated values back to the unrotated ones.
  void apply_inverse(float* x, int64_t T, int64_t n_heads, int64_t pos0) const;
  const std::vector<double>& inv_freq() const { return inv_freq_; }

 private:
  void rotate(float* x, int64_t T, int64_t n_heads, int64_t pos0, float sign) const;
  int64_t head_dim_;
  std::vector<double> inv_freq_;
};

}  // namespace llmq
