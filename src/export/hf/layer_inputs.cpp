#include "export/hf/layer_inputs.h"

#include "util/error.h"

namespace llmq {

LayerInputs::LayerInputs(const Transformer& model, const std::vector<std::vector<int32_t>>& windows, SpillMemory* memory)
    : model_(model), memory_(memory) {
  std::vector<float> x;
  for (const auto& w : windows) {
    model_.embed(w.data(), int64_t(w.size()), x);
    states_.emplace_back(x.begin(), x.end(), SpillAllocator<float>(memory_));
    lengths_.push_back(int64_t(w.size()));
  }
}

void LayerInputs::set_states(WindowStates states) {
  if (states.size() != lengths_.size()) fail("hidden states of {} windows given for {} windows", states.size(), lengths_.size());
  for (size_t i = 0; i < states.size(); ++i)
    if (states[i].size() != size_t(lengths_[i] * model_.config().hidden))
      fail("hidden states of window {} have {} values, expected {}", i, states[i].size(), lengths_[i] * model_.config().hidden);
  for (size_t i = 0; i < states.size(); ++i) {  // window by window, into this object's memory
    states_[i] = StateVector(states[i].begin(), states[i].end(), SpillAllocator<float>(memory_));
    StateVector().swap(states[i]);
  }
}

int64_t LayerInputs::tokens() const {
  int64_t n = 0;
  for (int64_t t : lengths_) n += t;
  return n;
}

void LayerInputs::run(int layer, ForwardHooks* hooks, bool advance, int64_t first, int64_t end) {
  if (end < 0) end = int64_t(states_.size());
  if (first < 0 || first > end || end > int64_t(states_.size()))
    fail("windows {}..{} asked of the {} hidden states held", first, end, states_.size());
  std::vector<float> scratch;
  for (size_t i = size_t(first); i < size_t(end); ++i) {
    const int64_t T = lengths_[i];
    KvCache cache = model_.make_cache(T);  // run_layer only touches this layer's slice
    float* X;
    if (advance) {
      X = states_[i].data();
    } else {
      scratch.assign(states_[i].begin(), states_[i].end());
      X = scratch.data();
    }
    model_.run_layer(layer, X, T, cache, hooks);
  }
}

}  // namespace llmq
