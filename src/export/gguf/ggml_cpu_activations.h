#pragma once
// llama.cpp's CPU backend does not multiply fp32 activations by quantized
// weights as they are: it first converts every activation row to the weight
// type's "vec_dot_type" — Q8_0 blocks of 32 for Q4_0/Q5_0/Q8_0 (Q8_1 for
// Q4_1/Q5_1, the same rounding), Q8_K blocks of 256 for the k-quants, f16 for
// F16 weights, bf16 for BF16 — and takes integer dot products. That rounding
// is part of what llama-perplexity measures. These hooks apply it to the
// inputs of every linear layer and of the output head, so that our quality
// numbers for a GGUF file can be put beside llama.cpp's like for like.
//
// Not reproduced: llama.cpp's f16 KV cache and its f16 attention products.
#include <memory>
#include <string>
#include <vector>

#include "model/forward_hooks.h"
#include "quant/formats/ggml/ggml_types.h"

namespace llmq {

class GgmlCpuActivations : public ForwardHooks {
 public:
  // Reads the tensor types of a GGUF model file; throws llmq::Error naming
  // the file if it is not one or lacks the linear weights of a layer.
  static std::unique_ptr<GgmlCpuActivations> from_gguf(const std::string& path);

  // The type an activation row is converted to before a product with
  // weights of type `weight`; F32 when it is used as it is.
  static ggml::GgmlType vec_dot_type(ggml::GgmlType weight);
  // Rounds rows [T, n] in place as the CPU backend would for `weight`.
  static void round_rows(ggml::GgmlType weight, float* X, int64_t T, int64_t n);

  void on_linear_input(int layer, LinearSlot slot, int expert, float* X, int64_t T, int64_t in) override;
  void on_head_input(float* X, int64_t T, int64_t hidden) override;

  ggml::GgmlType slot_type(int layer, LinearSlot slot) const;

 private:
  std::vector<std::vector<ggml::GgmlType>> slots_;  // [layer][slot]
  ggml::GgmlType head_ = ggml::GgmlType::F32;
};

}  // namespace llmq
