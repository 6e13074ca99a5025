#pragma once
// --protect-super-weights for Hugging Face integer checkpoints (gptq, awq,
// compressed-tensors, mlx): every linear holding a super weight listed by
// `analyze --identify-super-weights` stays unquantized, through the same skip
// rules as --ignore (GPTQ "dynamic" "-:", AWQ modules_to_not_convert,
// compressed-tensors ignore, MLX per-module false), so the super weight is
// stored as it is. The report says what was kept and what it costs in bytes.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "calibration/super_weights.h"
#include "export/hf/checkpoint_size.h"
#include "export/hf/hf_quant_format.h"
#include "export/hf/quantized_model.h"
#include "io/safetensors.h"
#include "model/weights.h"

namespace llmq {

// The list's super weights grouped by Hugging Face weight name. Throws a
// one-line llmq::Error naming `path` when it is missing or unreadable.
std::map<std::string, std::vector<SuperWeight>> read_protected_linears(const std::string& path);

// Exact-name patterns for IntQuantizeOptions::ignore. Throws naming `path`
// when the model lacks a listed tensor or a coordinate lies outside it.
std::vector<std::string> protection_patterns(const std::map<std::string, std::vector<SuperWeight>>& linears,
                                             ModelWeights& w, const std::string& path);

struct ProtectedLinear {
  std::string weight;              // "model.layers.1.mlp.down_proj.weight"
  std::vector<SuperWeight> super_weights;
  DType dtype = DType::F16;        // how the checkpoint stores it
  uint64_t float_bytes = 0;        // stored unquantized
  uint64_t quantized_bytes = 0;    // the format's tensors had it been quantized
  bool exact = true;               // every super weight survives `dtype` unchanged
  int64_t extra_bytes() const { return int64_t(float_bytes) - int64_t(quantized_bytes); }
};

struct SuperWeightProtection {
  std::string file;
  std::vector<ProtectedLinear> linears;
  int64_t extra_bytes() const;
};

// `source`: the model as loaded (the super weights' values); `opt`: the
// options the other linears were quantized with (bits, group size, act order).
SuperWeightProtection describe_protection(const std::string& file,
                                          const std::map<std::string, std::vector<SuperWeight>>& linears,
                                          ModelWeights& source, HfQuantFormat format, const IntQuantizeOptions& opt);

nlohmann::json protection_json(const SuperWeightProtection& p);

}  // namespace llmq
