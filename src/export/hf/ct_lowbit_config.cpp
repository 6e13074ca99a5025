#include "export/hf/ct_lowbit_config.h"

namespace llmq {

namespace {

using nlohmann::json;

// One QuantizationArgs, in the order pydantic dumps it.
json quant_args(int bits, const char* type, const char* strategy, json group_size, bool dynamic, json observer) {
  return {{"num_bits", bits},
          {"type", type},
          {"symmetric", true},
          {"group_size", group_size},
          {"strategy", strategy},
          {"block_structure", nullptr},
          {"dynamic", dynamic},
          {"actorder", nullptr},
          {"observer", observer},
          {"observer_kwargs", json::object()}};
}

json weight_args(const LowbitScheme& s) {
  switch (s.weights) {
    case LowbitWeights::Fp8: return quant_args(8, "float", s.per_tensor_weights ? "tensor" : "channel", nullptr, false, "minmax");
    case LowbitWeights::Int8: return quant_args(8, "int", "channel", nullptr, false, "minmax");
    case LowbitWeights::Nvfp4: return quant_args(4, "float", "tensor_group", 16, false, "minmax");
    case LowbitWeights::Mxfp4: return quant_args(4, "float", "group", 32, false, "minmax");
  }
  return nullptr;
}

json input_args(const LowbitScheme& s) {
  const char* type = s.weights == LowbitWeights::Int8 ? "int" : "float";
  switch (s.acts) {
    case ActScheme::None: return nullptr;
    // Dynamic args have no observer (the validator clears it).
    case ActScheme::DynamicPerToken: return quant_args(8, type, "token", nullptr, true, nullptr);
    case ActScheme::StaticPerTensor: return quant_args(8, type, "tensor", nullptr, false, "minmax");
  }
  return nullptr;
}

}  // namespace

json fp8_kv_cache_scheme() { return quant_args(8, "float", "tensor", nullptr, false, "minmax"); }

json lowbit_quantization_config(const LowbitScheme& s, const std::vector<std::string>& ignore) {
  const char* format = compressed_tensors_format(s);
  return {{"quant_method", "compressed-tensors"},
          {"format", format},
          {"quantization_status", "compressed"},
          {"config_groups",
           {{"group_0",
             {{"targets", {"Linear"}},
              {"weights", weight_args(s)},
              {"input_activations", input_args(s)},
              {"output_activations", nullptr},
              {"format", format}}}}},
          {"ignore", ignore},
          {"kv_cache_scheme", s.kv_fp8 ? fp8_kv_cache_scheme() : json(nullptr)},
          {"sparsity_config", json::object()},
          {"global_compression_ratio", nullptr}};
}

}  // namespace llmq
