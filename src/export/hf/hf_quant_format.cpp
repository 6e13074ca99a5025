#include "export/hf/hf_quant_format.h"

#include <set>

#include "util/error.h"

namespace llmq {

const char* hf_quant_format_name(HfQuantFormat f) {
  switch (f) {
    case HfQuantFormat::Gptq: return "gptq";
    case HfQuantFormat::Awq: return "awq";
    case HfQuantFormat::CompressedTensors: return "compressed-tensors";
    case HfQuantFormat::Mlx: return "mlx";
  }
  return "?";
}

HfQuantFormat parse_hf_quant_format(const std::string& s) {
  if (s == "gptq") return HfQuantFormat::Gptq;
  if (s == "awq") return HfQuantFormat::Awq;
  if (s == "compressed-tensors" || s == "ct") return HfQuantFormat::CompressedTensors;
  if (s == "mlx") return HfQuantFormat::Mlx;
  fail("unknown output format '{}' (expected gptq, awq, compressed-tensors or mlx)", s);
}

IntQuantSpec spec_for_format(HfQuantFormat f, IntQuantSpec spec, const GptqOptions& gptq, bool act_order_used,
                             DType source) {
  const char* name = hf_quant_format_name(f);
  const bool permuted_groups = act_order_used && gptq.desc_act && !gptq.static_groups && spec.group_size > 0;
  switch (f) {
    case HfQuantFormat::Gptq:
      spec.scale_storage = ScaleStorage::F16;
      // v1 checkpoints store zero - 1 in `bits` bits: zero 0 would wrap to 2^bits - 1.
      spec.zero_min = spec.sym ? 0 : 1;
      break;
    case HfQuantFormat::Awq:
      if (spec.bits != 4) fail("{} output holds 4-bit weights only (asked for {} bits)", name, spec.bits);
      if (spec.group_size < 0) fail("{} output needs a group size (32, 64 or 128), not per channel", name);
      if (permuted_groups) fail("{} output cannot store act-order groups: add --static-groups or drop --desc-act", name);
      spec.scale_storage = ScaleStorage::F16;
      break;
    case HfQuantFormat::CompressedTensors:
      // Consumers disagree on 3-bit word padding (old: 10 values per word, new: dense), so only 2/4/8.
      if (spec.bits == 3) fail("{} output: 3-bit packing differs between versions; use 2, 4 or 8 bits", name);
      spec.scale_storage = ScaleStorage::BF16;
      break;
    case HfQuantFormat::Mlx:
      if (spec.group_size < 0) fail("{} output needs a group size (32, 64 or 128), not per channel", name);
      if (permuted_groups) fail("{} output cannot store act-order groups: add --static-groups or drop --desc-act", name);
      break;
  }
  return spec_for_source(f, spec, source);
}

IntQuantSpec spec_for_source(HfQuantFormat f, IntQuantSpec spec, DType source) {
  // mlx-lm keeps scales and biases in the model's type: bf16 activations times f16 scales would run in fp32.
  if (f == HfQuantFormat::Mlx) spec.scale_storage = source == DType::BF16 ? ScaleStorage::BF16 : ScaleStorage::F16;
  return spec;
}

std::vector<int> format_bit_widths(HfQuantFormat f) {
  switch (f) {
    case HfQuantFormat::Gptq: case HfQuantFormat::Mlx: return {2, 3, 4, 8};
    case HfQuantFormat::Awq: return {4};
    case HfQuantFormat::CompressedTensors: return {2, 4, 8};  // see spec_for_format on 3 bits
  }
  return {};
}

void check_linear_bits_for_format(HfQuantFormat f, const std::map<std::string, int>& linear_bits) {
  if (linear_bits.empty()) return;
  const char* name = hf_quant_format_name(f);
  if (f == HfQuantFormat::Awq)
    fail("{} output cannot hold per-linear bit widths (AutoAWQ checkpoints have one bit width); use gptq or "
         "compressed-tensors", name);
  if (f == HfQuantFormat::Mlx)
    for (const auto& [linear, bits] : linear_bits)
      if (linear.find(".experts.") != std::string::npos)
        fail("{} output cannot hold per-expert bit widths: mlx-lm stacks the experts of a layer into one "
             "SwitchLinear (switch_mlp.{{gate,up,down}}_proj) with one bit width; use gptq or compressed-tensors "
             "(first expert linear: {})", name, linear);
  const std::vector<int> widths = format_bit_widths(f);
  const std::set<int> ok(widths.begin(), widths.end());
  for (const auto& [linear, bits] : linear_bits)
    if (!ok.count(bits)) fail("{} output cannot store {}-bit weights ({})", name, bits, linear);
}

}  // namespace llmq
