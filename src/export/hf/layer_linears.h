#pragma once
// The quantizable linears of one decoder layer, each with its Hugging Face
// name and the calibration key of its input (slot, expert).
#include <string>
#include <vector>

#include "calibration/collector.h"
#include "model/weights.h"
#include "util/user_regex.h"

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

// --ignore: linears whose weight name matches one of the patterns (regular
// expressions, found anywhere in the name, e.g. "down_proj" or "layers\.0\.")
// stay in floating point.
class IgnoreList {
 public:
  // Throws llmq::Error naming the pattern when one is not a valid expression.
  explicit IgnoreList(const std::vector<std::string>& patterns);
  bool ignored(const std::string& weight_name) const;
  bool empty() const { return res_.empty(); }

 private:
  std::vector<UserRegex> res_;
};

// `linears` without the ignored ones.
std::vector<LayerLinear> without_ignored(std::vector<LayerLinear> linears, const IgnoreList& ignore);

}  // namespace llmq
