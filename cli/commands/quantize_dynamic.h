#pragma once
// llm-quantize quantize MODEL gguf -q dynamic [--profile NAME|FILE] [--imatrix F]
//     [--target-bpw X | --target-size S] [...]: dynamic mixed precision.
#include <string>

#include "../cli_common.h"
#include "dynamic_options.h"
#include "quantize_coherence.h"
#include "quantize_quality.h"

namespace llmq::cli {

struct QuantizeDynamicArgs {
  std::string model, output, imatrix, name;
  bool dry_run = false;
  DynamicArgs dyn;
  QuantizeQualityArgs quality;
  CoherenceArgs coherence;
};

void run_quantize_dynamic(const QuantizeDynamicArgs& a, const CommonOptions& opts);

}  // namespace llmq::cli
