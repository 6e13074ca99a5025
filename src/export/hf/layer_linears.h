#pragma once
// The quantizable linears of one decoder layer, each with its Hugging Face
// name and the calibration key of its input (slot, expert).
#include <string>
#include <vector>

#include "calibration/collector.h"
#include "model/weights.h"

namespace llmq {

struct LayerLinear {
  std::string name;   // "model.layers.3.self_attn.q_proj.weight"
  Tensor* weight;
  LinearKey key;      // input statistics: q/k/v share one key, as do gate/up
  TensorRole role;
};

// In the order a true-sequential pass quantizes them.
std::vector<LayerLinear> layer_linears(ModelWeights& w, int layer);

// Every quantizable linear of the model (all layers).
std::vector<LayerLinear> model_linears(ModelWeights& w);

}  // namespace llmq
