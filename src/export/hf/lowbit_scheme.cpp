#include "export/hf/lowbit_scheme.h"

#include <fmt/format.h>

#include "util/error.h"

namespace llmq {

bool LowbitScheme::needs_calibration() const {
  // FP4's coarse grid is where importance-weighted scale search pays; FP8 and
  // int8 weights take statistics only when something else needs a pass.
  const bool fp4 = weights == LowbitWeights::Nvfp4 || weights == LowbitWeights::Mxfp4;
  return acts == ActScheme::StaticPerTensor || smooth || kv_fp8 ||
         (fp4 && use_importance && scale_rule == fp::ScaleRule::search);
}

std::string LowbitScheme::name() const {
  std::string n;
  switch (weights) {
    case LowbitWeights::Fp8:
      n = acts == ActScheme::None ? "fp8-w8a16" : acts == ActScheme::DynamicPerToken ? "fp8-dynamic" : "fp8-static";
      n += per_tensor_weights ? "-tensor" : "-channel";
      break;
    case LowbitWeights::Int8: n = acts == ActScheme::None ? "int8-w8a16" : "int8-w8a8"; break;
    case LowbitWeights::Nvfp4: n = "nvfp4"; break;
    case LowbitWeights::Mxfp4: n = "mxfp4"; break;
  }
  if (smooth) n += "-smoothquant";
  if (kv_fp8) n += "-kv-fp8";
  return n;
}

bool is_lowbit_method(const std::string& method) {
  return method == "fp8" || method == "fp4" || method == "int8" || method == "smoothquant";
}

LowbitScheme parse_lowbit_scheme(const std::string& method, const std::string& scheme,
                                 const std::string& weight_scales, bool smoothquant) {
  LowbitScheme s;
  auto bad = [&](const char* allowed) {
    fail("--scheme {}: not a scheme of {} (expected {})", scheme, method, allowed);
  };
  if (method == "fp8") {
    s.weights = LowbitWeights::Fp8;
    if (scheme.empty() || scheme == "dynamic") s.acts = ActScheme::DynamicPerToken;
    else if (scheme == "static") s.acts = ActScheme::StaticPerTensor, s.per_tensor_weights = true;
    else if (scheme == "w8a16") s.acts = ActScheme::None;
    else bad("dynamic, static or w8a16");
  } else if (method == "fp4") {
    if (scheme.empty() || scheme == "nvfp4") s.weights = LowbitWeights::Nvfp4;
    else if (scheme == "mxfp4") s.weights = LowbitWeights::Mxfp4;
    else bad("nvfp4 or mxfp4");
  } else if (method == "int8" || method == "smoothquant") {
    s.weights = LowbitWeights::Int8;
    const std::string sc = scheme.empty() ? (method == "int8" ? "w8a16" : "w8a8") : scheme;
    if (sc == "w8a16") s.acts = ActScheme::None;
    else if (sc == "w8a8") s.acts = ActScheme::DynamicPerToken;
    else bad(method == "int8" ? "w8a16 or w8a8" : "w8a8");
    s.smooth = method == "smoothquant";
    if (s.smooth && s.acts == ActScheme::None) fail("smoothquant needs quantized activations (--scheme w8a8)");
  } else {
    fail("unknown low-bit method '{}' (expected fp8, fp4, int8 or smoothquant)", method);
  }
  if (smoothquant) {
    if (!s.quantizes_activations())
      fail("--smoothquant: scheme {} leaves activations in full precision, nothing to smooth", s.name());
    s.smooth = true;
  }
  if (!weight_scales.empty()) {
    if (s.weights != LowbitWeights::Fp8) fail("--weight-scales applies to fp8 only");
    if (weight_scales == "tensor") s.per_tensor_weights = true;
    else if (weight_scales == "channel") s.per_tensor_weights = false;
    else fail("--weight-scales {}: expected channel or tensor", weight_scales);
  }
  return s;
}

const char* compressed_tensors_format(const LowbitScheme& s) {
  switch (s.weights) {
    case LowbitWeights::Fp8: return "float-quantized";
    case LowbitWeights::Int8: return s.quantizes_activations() ? "int-quantized" : "pack-quantized";
    case LowbitWeights::Nvfp4: return "nvfp4-pack-quantized";
    case LowbitWeights::Mxfp4: return "mxfp4-pack-quantized";
  }
  return "?";
}

}  // namespace llmq
