#pragma once
// Accurate-mode sensitivity (see sensitivity.h): KL divergence of the final
// next-token distribution against the unquantized model when one tensor
// alone is quantized-and-dequantized, averaged over every position of a few
// calibration windows.
//
// The base run keeps each window's hidden state at the input of every
// layer, so measuring a tensor of layer l reruns layers l.. only (the output
// head alone for output.weight); the tensor's values are restored after
// each measurement.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "eval/window_plan.h"
#include "export/gguf/gguf_exporter.h"
#include "export/gguf/gguf_tensor_layout.h"
#include "model/transformer.h"

namespace llmq {

struct KldMeterOptions {
  int64_t windows = 4;  // calibration windows
  int64_t ctx = 512;    // tokens per window; every position is scored
};

class KldSensitivityMeter {
 public:
  // `weights`: the fp32 model (modified during measure(), restored after).
  // `tokens`: the calibration text, tokenized; consecutive windows from its start.
  KldSensitivityMeter(std::shared_ptr<ModelWeights> weights, const std::vector<int32_t>& tokens,
                      const KldMeterOptions& opt, ImportanceLookup importance);
  ~KldSensitivityMeter();

  // Mean KL(base || model with `spec` stored in `type`), nats per token.
  // Throws llmq::Error when the codec refuses the type.
  double measure(const GgufTensorSpec& spec, ggml::GgmlType type);

  const WindowPlan& plan() const { return plan_; }

 private:
  std::shared_ptr<ModelWeights> w_;
  std::unique_ptr<Transformer> model_;
  WindowPlan plan_;
  std::vector<int32_t> tokens_;
  std::vector<uint8_t> base_records_;  // the base's log-probs per scored position (log_prob_codec.h)
  int64_t record_bytes_ = 0;
  ImportanceLookup importance_;
  // [window][layer]: hidden state entering the layer; [window][n_layers]: leaving the last.
  std::vector<std::vector<std::vector<float>>> hidden_;
};

}  // namespace llmq
