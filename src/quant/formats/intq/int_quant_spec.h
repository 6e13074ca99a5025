#pragma once
// The parameters of group-wise integer weight quantization, shared by RTN,
// GPTQ and AWQ and by the GPTQ / AWQ / compressed-tensors / MLX writers.
//
// A linear weight W [out, in] is cut along `in` into groups of group_size
// columns (group_size = -1: one group spanning the row, i.e. per channel).
// Each (row, group) has a scale s and an integer zero point z, and a weight
// is stored as q in [0, 2^bits - 1] with  w ~= s * (q - z).
#include <cstdint>
#include <string>

namespace llmq {

// Precision the scales are stored in. Codes are computed against the rounded
// scale, so that what a consumer dequantizes is what the quantizer measured.
enum class ScaleStorage { F32, F16, BF16 };

float round_scale_to_storage(float scale, ScaleStorage s);

struct IntQuantSpec {
  int bits = 4;
  int64_t group_size = 128;  // -1 = per channel
  bool sym = true;           // symmetric: zero point fixed at 2^(bits-1)
  // Smallest zero point allowed for asymmetric grids. GPTQ v1 checkpoints
  // store zero - 1, which wraps for zero = 0, so that writer asks for 1.
  int zero_min = 0;
  ScaleStorage scale_storage = ScaleStorage::F16;

  int maxq() const { return (1 << bits) - 1; }
  int sym_zero() const { return 1 << (bits - 1); }
  int64_t group_len(int64_t in) const { return group_size < 0 ? in : group_size; }
  int64_t n_groups(int64_t in) const { return (in + group_len(in) - 1) / group_len(in); }
  // Throws llmq::Error for unsupported bits / group sizes or a width the
  // group size does not divide.
  void validate(int64_t in_features) const;
  std::string describe() const;  // "4-bit g128 sym"
};

}  // namespace llmq
