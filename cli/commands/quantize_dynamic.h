#pragma once
// llm-quantize quantize MODEL gguf -q dynamic [--profile NAME|FILE] [--imatrix F]
//     [--target-bpw X | --target-size S] [...]: dynamic mixed precision.
#include <string>

#include "../cli_common.h"
#include "dynamic_options.h"
#include "quantize_coherence.h"
#include "quantize_quality.h"
#include "calibration/calibration_data.h"
#include "quant/methods/gptq.h"

namespace llmq::cli {

// `--gptq` for a GGUF export (docs/gguf_gptq.md): Hessians from this calibration text.
struct GgufGptqArgs {
  bool enabled = false;
  std::string calibration;  // empty: the model's default calibration text
  WindowOptions windows;
  GptqOptions gptq;
};

struct QuantizeDynamicArgs {
  std::string model, output, imatrix, name;
  bool dry_run = false;
  DynamicArgs dyn;
  QuantizeQualityArgs quality;
  CoherenceArgs coherence;
  GgufGptqArgs gptq;
};

void run_quantize_dynamic(const QuantizeDynamicArgs& a, const CommonOptions& opts);

}  // namespace llmq::cli
