#pragma once
// How a layer-by-layer quantizer hands each finished decoder layer out, so
// that the whole model never has to be resident: the quantizer makes layer l
// dense, quantizes it, calls layer_done (which writes the layer's checkpoint
// tensors somewhere), then returns the layer to its lazy, on-disk form and
// forgets its quantized linears. Without a stream every layer stays in the
// model object, as callers that evaluate it in memory need.
#include <functional>
#include <vector>

#include "export/hf/layer_linears.h"
#include "model/layer_residency.h"
#include "model/weights.h"
#include "util/spill_memory.h"

namespace llmq {

// Hidden states entering a decoder layer, one [T * hidden] vector per calibration window;
// in memory, or past --max-memory in a spill file (util/spill_memory.h).
using StateVector = std::vector<float, SpillAllocator<float>>;
using WindowStates = std::vector<StateVector>;

template <typename Model>
struct LayerStream {
  // Layers before this one were finished by an earlier run of the same job
  // (resume): they are neither quantized nor handed out again.
  int first_layer = 0;
  // The hidden states entering first_layer, for quantizers that carry states
  // from layer to layer (sequential GPTQ, AWQ); must be set when first_layer > 0 for them.
  WindowStates states;
  // Where quantizers that carry states keep them (null: ordinary memory).
  SpillMemory* state_memory = nullptr;
  // Layer l is final in `m` (its tensors and quantized linears; the report
  // entries, fallbacks and warnings added since the previous layer).
  // `next_states`: the hidden states entering layer l + 1, where the quantizer has them.
  std::function<void(int l, Model& m, const WindowStates* next_states)> layer_done;
  // Layer l of `w` is dense and about to be quantized (e.g. to check its values).
  std::function<void(int l, ModelWeights& w)> layer_ready;
};

// Makes layer l of `w` dense and tells the stream (if any).
template <typename Model>
void prepare_layer(ModelWeights& w, int l, LayerStream<Model>* stream);

// After layer l of `m` is quantized: hands it to the stream (if any), then
// returns its tensors to how `source` holds them and drops its quantized
// linears. Model: QuantizedModel or LowbitModel (weights, linears by weight name).
template <typename Model>
void finish_layer(Model& m, const ModelWeights& source, int l, LayerStream<Model>* stream,
                  const WindowStates* next_states = nullptr);

template <typename Model>
void prepare_layer(ModelWeights& w, int l, LayerStream<Model>* stream) {
  materialize_layer(w, l);
  if (stream && stream->layer_ready) stream->layer_ready(l, w);
}

template <typename Model>
void finish_layer(Model& m, const ModelWeights& source, int l, LayerStream<Model>* stream,
                  const WindowStates* next_states) {
  if (!stream) return;
  if (stream->layer_done) stream->layer_done(l, m, next_states);
  for (const LayerLinear& lin : layer_linears(*m.weights, l)) m.linears.erase(lin.name);
  release_layer(*m.weights, source, l);
}

}  // namespace llmq
