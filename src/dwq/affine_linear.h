#pragma once
// One quantized linear as DWQ trains it: MLX's affine form w = q * scale + bias
// per group of `group` input columns, with the integer codes q fixed and the
// per-group scales and biases free parameters (fp32 while training).
#include <cstdint>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace llmq::dwq {

struct AffineLinear {
  std::string weight_name;  // Hugging Face weight name ("model.layers.0.self_attn.q_proj.weight")
  int64_t rows = 0, cols = 0, group = 64;
  int bits = 4;
  std::vector<uint8_t> q;                // [rows, cols] codes in 0 .. 2^bits - 1
  std::vector<float> scales, biases;     // [rows, cols / group], the fp32 values Adam updates
  // The type the checkpoint stores scales and biases in (bf16 for a bf16
  // model): the forward pass uses the values rounded to it, so the loss
  // trained is the loss of the file written (gradients pass straight through
  // the rounding, as mlx-lm's DWQ does by casting its parameters).
  DType storage = DType::F32;

  int64_t n_groups() const { return cols / group; }
  // W [rows, cols] = q * scale + bias, scale and bias rounded to `storage`.
  void dequantize(float* W) const;
  // The gradients of the scales and biases from dW, the gradient of the loss
  // with respect to W [rows, cols]: dscale = sum over the group of dW * q,
  // dbias = sum of dW. Added to gs and gb ([rows, n_groups]).
  void accumulate_gradients(const float* dW, float* gs, float* gb) const;
};

}  // namespace llmq::dwq
