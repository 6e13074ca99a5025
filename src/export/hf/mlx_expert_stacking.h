#pragma once
// mlx-lm runs a MoE layer's experts as one SwitchLinear per projection: its
// qwen2_moe / qwen3_moe / mixtral models read `<block>.switch_mlp.<proj>.
// {weight,scales,biases}` with the experts stacked on a leading axis, and
// their sanitize() stacks per-expert tensors only when they are unquantized.
// A quantized MLX checkpoint of a MoE model must therefore hold the stacked
// form; this file converts between the two namings.
#include <optional>
#include <string>
#include <vector>

#include "export/hf/hf_tensor_encoders.h"

namespace llmq {

class HfCheckpoint;

// The stacked name of a per-expert tensor, and its expert, or nothing for a
// tensor that is not one: "model.layers.3.mlp.experts.5.up_proj.scales" ->
// ("model.layers.3.mlp.switch_mlp.up_proj.scales", 5);
// "...block_sparse_moe.experts.5.w1.weight" -> ("...block_sparse_moe.switch_mlp.gate_proj.weight", 5).
struct StackedName {
  std::string name;
  int expert = -1;
};
std::optional<StackedName> mlx_stacked_name(const std::string& expert_tensor);

// Replaces every quantized expert projection (weight, scales and biases of
// all experts of one layer) by its stacked tensor [experts, ...], at the
// place of the first expert's. Unquantized expert weights stay per expert
// (mlx-lm stacks those itself). Throws llmq::Error when a layer's experts of
// one projection are partly quantized or differ in shape or type, which one
// SwitchLinear cannot hold. Bytes stay lazy: a stacked tensor streams its
// parts in expert order.
void stack_mlx_experts(std::vector<OutTensor>& tensors);

// The reverse, for reading: adds per-expert views (HF names) of each stacked
// switch_mlp tensor of the checkpoint.
void add_mlx_expert_views(HfCheckpoint& ck);

}  // namespace llmq
