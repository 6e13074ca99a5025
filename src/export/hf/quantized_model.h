#pragma once
// A model after weight-only integer quantization (RTN, GPTQ or AWQ): the
// integer form of every quantized linear, plus full-precision weights in
// which those linears hold their dequantized values (and AWQ's rescaled
// norms), so the same object can be evaluated and written out.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/weights.h"
#include "quant/formats/intq/quantized_linear.h"
#include "quant/methods/awq.h"
#include "quant/methods/gptq.h"

namespace llmq {

enum class IntQuantMethod { Rtn, Gptq, Awq };
const char* int_quant_method_name(IntQuantMethod m);
IntQuantMethod parse_int_quant_method(const std::string& s);  // throws llmq::Error

struct IntQuantizeOptions {
  IntQuantMethod method = IntQuantMethod::Gptq;
  IntQuantSpec spec;
  GptqOptions gptq;
  AwqOptions awq;
  // Each block's calibration inputs come from the already-quantized blocks
  // before it (GPTQ's and AWQ's default); false: all statistics from one
  // full-precision pass.
  bool sequential = true;
  // Inside a block, quantize q/k/v, then o, then gate/up, then down, each on
  // inputs that went through the linears quantized before it.
  bool true_sequential = true;
  // An MoE expert routed fewer calibration tokens than this gets RTN.
  int64_t min_expert_tokens = 32;
  // Regular expressions: linears whose weight name matches one stay in floating point (--ignore).
  std::vector<std::string> ignore;
  // Bit widths of single linears that differ from spec.bits, by weight name
  // (MoE experts by routing counts, --dynamic-experts). RTN and GPTQ; the
  // writers record them per module (GPTQ "dynamic" rules, compressed-tensors groups).
  std::map<std::string, int> linear_bits;

  // The spec the linear with this weight name is quantized with.
  IntQuantSpec spec_of(const std::string& weight_name) const {
    IntQuantSpec s = spec;
    if (auto it = linear_bits.find(weight_name); it != linear_bits.end()) s.bits = it->second;
    return s;
  }
};

struct QuantizedModel {
  std::shared_ptr<ModelWeights> weights;           // fp32; quantized linears hold their dequantized values
  std::map<std::string, QuantizedLinear> linears;  // by Hugging Face weight name ("...q_proj.weight")
  std::vector<std::string> rtn_fallbacks;          // linears GPTQ/AWQ left to RTN, with the reason
  std::vector<std::string> ignored;                // linear weight names kept in floating point (--ignore)
  std::vector<std::string> warnings;
  nlohmann::json report;                           // per-linear statistics for --format json
};

}  // namespace llmq
