#include "export/hf/hf_quant_format.h"

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

IntQuantSpec spec_for_format(HfQuantFormat f, IntQuantSpec spec, const GptqOptions& gptq, bool act_order_used) {
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
      spec.scale_storage = ScaleStorage::F16;
      break;
  }
  return spec;
}

}  // namespace llmq
