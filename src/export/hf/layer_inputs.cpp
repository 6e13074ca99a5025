#include "export/hf/layer_inputs.h"

#include "util/error.h"

namespace llmq {

LayerInputs::LayerInputs(const Transformer& model, const std::vector<std::vector<int32_t>>& windows) : model_(model) {
  for (const auto& w : windows) {
    states_.emplace_back();
    model_.embed(w.data(), int64_t(w.size()), states_.back());
    lengths_.push_back(int64_t(w.size()));
  }
}

void LayerInputs::set_states(std::vector<std::vector<float>> states) {
  if (states.size() != lengths_.size()) fail("hidden states of {} windows given for {} windows", states.size(), lengths_.size());
  for (size_t i = 0; i < states.size(); ++i)
    if (states[i].size() != size_t(lengths_[i] * model_.config().hidden))
      fail("hidden states of window {} have {} values, expected {}", i, states[i].size(), lengths_[i] * model_.config().hidden);
  states_ = std::move(states);
}

int64_t LayerInputs::tokens() const {
  int64_t n = 0;
  for (int64_t t : lengths_) n += t;
  return n;
}

void LayerInputs::run(int layer, ForwardHooks* hooks, bool advance, std::vector<std::vector<float>>* outputs) {
  if (outputs) outputs->resize(states_.size());
  std::vector<float> scratch;
  for (size_t i = 0; i < states_.size(); ++i) {
    const int64_t T = lengths_[i];
    KvCache cache = model_.make_cache(T);  // run_layer only touches this layer's slice
    float* X;
    if (advance) {
      X = states_[i].data();
    } else {
      std::vector<float>& dst = outputs ? (*outputs)[i] : scratch;
      dst = states_[i];
      X = dst.data();
    }
    model_.run_layer(layer, X, T, cache, hooks);
  }
}

double LayerInputs::output_mse(int layer, const std::vector<std::vector<float>>& reference) {
  std::vector<std::vector<float>> out;
  run(layer, nullptr, false, &out);
  double sum = 0;
  int64_t n = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    for (size_t j = 0; j < out[i].size(); ++j) {
      const double d = double(out[i][j]) - double(reference[i][j]);
      sum += d * d;
    }
    n += int64_t(out[i].size());
  }
  return n ? sum / double(n) : 0.0;
}

}  // namespace llmq
