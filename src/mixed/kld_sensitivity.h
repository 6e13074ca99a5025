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
//
// Two ways to name what is quantized: a GGUF tensor and a ggml type (the
// dynamic GGUF path), or Hugging Face weights of one layer and a function
// that fake-quantizes each in place (the rtn|gptq --target-bpw path, RTN at
// a width).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "eval/window_plan.h"
#include "export/gguf/gguf_exporter.h"
#include "export/gguf/gguf_tensor_layout.h"
#include "model/model_loader.h"
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

  // Mean KL(base || model with the Hugging Face weights `names`, all of
  // decoder layer `layer`, replaced by fake_quantize(weight)), nats per token.
  // Throws llmq::Error when a name is not in the model.
  using FakeQuantize = std::function<void(Tensor&)>;
  double measure(const std::vector<std::string>& names, int layer, const FakeQuantize& fake_quantize);

  const WindowPlan& plan() const { return plan_; }

 private:
  std::vector<Tensor*> find_parts(const std::vector<std::string>& names, const std::string& what) const;
  // Replaces each part by quantize(index, part), reruns from layer `first`
  // (-1: from the embedding; n_layers: the head only), restores the parts.
  double measure_parts(const std::vector<Tensor*>& parts, int first,
                       const std::function<void(size_t, Tensor&)>& quantize);

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

// The meter over the calibration text at `data_path`, tokenized with the
// model's tokenizer. Throws llmq::Error naming the file when it is unreadable
// or shorter than one window.
std::unique_ptr<KldSensitivityMeter> make_kld_meter(const LoadedModel& model, const std::string& data_path,
                                                    const KldMeterOptions& opt, ImportanceLookup importance);

}  // namespace llmq
