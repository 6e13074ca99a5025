#pragma once
// GPTQ for a GGUF export (`quantize MODEL gguf -q Q4_K_M --gptq`): the
// Hessians of every linear's input, from calibration windows run through the
// full-precision model one decoder layer at a time, so that the k-quant
// tensors of a layer can be quantized with error feedback
// (quant/methods/gptq_ggml.h) as the export reaches them.
//
// Memory: the calibration windows' hidden states (windows x ctx x hidden
// floats) plus the Gram matrices of one layer's inputs (in^2 doubles each:
// q/k/v share one, gate/up one, one per expert); the model's weights stay
// mapped and are converted a tile at a time.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "calibration/calibration_data.h"
#include "calibration/gram_collector.h"
#include "export/gguf/gguf_tensor_layout.h"
#include "model/model_loader.h"
#include "quant/methods/gptq.h"

namespace llmq {

struct GgufGptqOptions {
  std::vector<std::vector<int32_t>> windows;  // calibration windows (token ids)
  GptqOptions gptq;
  int64_t min_expert_tokens = 16;  // an expert reached by fewer tokens keeps the row quantizer
};

class GgufGptq {
 public:
  // `model`: the full-precision checkpoint, loaded lazily (mapped, converted a tile at a time).
  GgufGptq(LoadedModel model, GgufGptqOptions opt);
  ~GgufGptq();

  // The GPTQ input of a GGUF tensor (q/k/v, o, gate/up, down of a decoder
  // layer, one expert of a stacked tensor): its Gram statistics, or null for
  // any other tensor or an input too few calibration tokens reached. Layers
  // must be asked for in ascending order (the export's order).
  const GramStats* find(const GgufTensorSpec& spec, int expert);
  const GptqOptions& gptq() const { return opt_.gptq; }
  int64_t windows() const { return int64_t(opt_.windows.size()); }
  int64_t tokens() const;

 private:
  struct State;
  GgufGptqOptions opt_;
  std::unique_ptr<State> state_;
};

// The usual setup: calibration text from `calibration_path` (or the model's
// default calibration file when empty), tokenized with the model's
// tokenizer, cut into windows. Notes (fewer windows than asked) go to `notes`.
std::shared_ptr<GgufGptq> make_gguf_gptq(const std::string& model_dir, const std::string& calibration_path,
                                         const WindowOptions& windows, const GptqOptions& gptq,
                                         std::vector<std::string>* notes = nullptr);

}  // namespace llmq
