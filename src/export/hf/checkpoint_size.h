#pragma once
// The size of an integer-quantized Hugging Face checkpoint before it is
// written, counted from the writer's own tensor list (the format's packed
// codes, scales, zeros, g_idx; the tensors kept in floating point; the
// safetensors headers), so budgets (`--target-bpw`, `--target-size`) and
// protection reports count the bytes that will be on disk.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "export/hf/hf_quant_format.h"
#include "export/hf/hf_tensor_encoders.h"
#include "export/hf/quantized_model.h"
#include "export/hf/safetensors_shards.h"

namespace llmq {

// "model.layers.0.mlp.down_proj.weight" -> "model.layers.0.mlp.down_proj"
std::string module_of_weight(const std::string& weight_name);

// The safetensors metadata the writer puts in every shard.
std::map<std::string, std::string> checkpoint_metadata(HfQuantFormat format);

// The format's tensors for one linear [rows, cols] quantized with `opt`
// (names, dtypes, shapes; no bytes).
std::vector<OutTensor> quantized_linear_layout(HfQuantFormat format, const std::string& weight_name, int64_t rows,
                                               int64_t cols, const IntQuantizeOptions& opt);

// Bytes the format's tensors take for one linear [rows, cols] quantized with `opt`.
uint64_t quantized_linear_bytes(HfQuantFormat format, const std::string& weight_name, int64_t rows, int64_t cols,
                                const IntQuantizeOptions& opt);

// The summed size of the safetensors files write_hf_quantized writes for
// `w` when the linears named in `quantized` are quantized as `opt` says
// (widths from opt.linear_bits) and every other tensor is kept in the
// format's floating-point dtype.
uint64_t hf_checkpoint_bytes(ModelWeights& w, HfQuantFormat format, const IntQuantizeOptions& opt,
                             const std::set<std::string>& quantized, uint64_t max_shard_bytes = kDefaultMaxShardBytes);

}  // namespace llmq
