#pragma once
// A linear weight after group-wise integer quantization, in a layout
// independent of any checkpoint format: one code per weight, a scale and a
// zero point per (row, group), and the group of each input column (g_idx;
// GPTQ's act-order permutes which columns share a group).
#include <cstdint>
#include <vector>

#include "model/tensor.h"
#include "quant/formats/intq/group_grid.h"
#include "quant/formats/intq/int_quant_spec.h"

namespace llmq {

struct QuantizedLinear {
  int64_t rows = 0, cols = 0;  // out_features, in_features
  IntQuantSpec spec;
  std::vector<uint8_t> q;       // [rows, cols] codes in 0..maxq
  std::vector<float> scales;    // [rows, n_groups]
  std::vector<int32_t> zeros;   // [rows, n_groups]
  std::vector<int32_t> g_idx;   // [cols]
  // Free affine offsets [rows, n_groups] (MLX's "biases", learned by DWQ):
  // when set, w = scale * q + bias and the zero points are unused. Only the
  // MLX layout can store them.
  std::vector<float> biases;

  int64_t n_groups() const { return spec.n_groups(cols); }
  // Allocates storage and sets g_idx to the plain layout (column / group_len).
  void init(int64_t rows, int64_t cols, const IntQuantSpec& spec);
  // g_idx[c] == c / group_len for every column (no act-order permutation).
  bool has_sequential_groups() const;
  GroupGrid grid(int64_t r, int64_t g) const { return {scales[size_t(r * n_groups() + g)], zeros[size_t(r * n_groups() + g)]}; }
  void set_grid(int64_t r, int64_t g, const GroupGrid& gg) {
    scales[size_t(r * n_groups() + g)] = gg.scale;
    zeros[size_t(r * n_groups() + g)] = gg.zero;
  }
  float dequant(int64_t r, int64_t c) const {
    const int64_t g = g_idx[size_t(c)];
    if (!biases.empty()) return scales[size_t(r * n_groups() + g)] * float(q[size_t(r * cols + c)]) + biases[size_t(r * n_groups() + g)];
    return grid(r, g).dequantize(q[size_t(r * cols + c)]);
  }
  // The fp32 weight [rows, cols] this represents: s * (q - z), or s * q + bias.
  Tensor dequantize() const;
};

}  // namespace llmq
