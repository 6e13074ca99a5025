#pragma once
// The hidden states entering one decoder layer for every calibration window,
// so that methods can walk the model a layer at a time: observe a layer's
// linear inputs (hooks), try candidate weights, then advance the states
// through the (quantized) layer to feed the next one.
#include <cstdint>
#include <vector>

#include "model/transformer.h"

namespace llmq {

class LayerInputs {
 public:
  // Embeds every window.
  LayerInputs(const Transformer& model, const std::vector<std::vector<int32_t>>& windows);

  // Runs `layer` on every window with the model's current weights. With
  // `advance` the states become the layer's outputs; otherwise they are kept
  // and, when `outputs` is given, the outputs are written there.
  void run(int layer, ForwardHooks* hooks, bool advance, std::vector<std::vector<float>>* outputs = nullptr);

  // Mean squared difference between the layer's outputs now and `reference`.
  double output_mse(int layer, const std::vector<std::vector<float>>& reference);

  // Replaces the states (e.g. with full-precision outputs saved earlier, or
  // those of a resumed run); they must be of the same windows.
  void set_states(std::vector<std::vector<float>> states);
  const std::vector<std::vector<float>>& states() const { return states_; }

  int64_t windows() const { return int64_t(states_.size()); }
  int64_t tokens() const;

 private:
  const Transformer& model_;
  std::vector<std::vector<float>> states_;  // [window][T * hidden]
  std::vector<int64_t> lengths_;
};

}  // namespace llmq
