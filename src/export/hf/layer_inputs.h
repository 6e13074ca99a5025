#pragma once
// The hidden states entering one decoder layer for every calibration window,
// so that methods can walk the model a layer at a time: observe a layer's
// linear inputs (hooks), try candidate weights, then advance the states
// through the (quantized) layer to feed the next one.
#include <cstdint>
#include <vector>

#include "export/hf/layer_stream.h"
#include "model/transformer.h"

namespace llmq {

class LayerInputs {
 public:
  // Embeds every window; the states live in `memory` when given (--max-memory), else in ordinary memory.
  LayerInputs(const Transformer& model, const std::vector<std::vector<int32_t>>& windows, SpillMemory* memory = nullptr);

  // Runs `layer` on windows [first, end) (end < 0: to the last) with the
  // model's current weights. With `advance` the states become the layer's
  // outputs; otherwise they are kept.
  void run(int layer, ForwardHooks* hooks, bool advance, int64_t first = 0, int64_t end = -1);

  // Replaces the states (those of a resumed run); they must be of the same windows.
  void set_states(WindowStates states);
  const WindowStates& states() const { return states_; }

  int64_t windows() const { return int64_t(states_.size()); }
  int64_t tokens() const;

 private:
  const Transformer& model_;
  SpillMemory* memory_;
  WindowStates states_;  // [window][T * hidden]
  std::vector<int64_t> lengths_;
};

}  // namespace llmq
