#pragma once
// Logits of one forward pass, for tests that compare two models' outputs.
#include <memory>
#include <vector>

#include "model/transformer.h"

namespace llmq::test {

// Logits of one forward pass over `tokens` ([tokens, vocab]).
inline std::vector<float> logits_of(const std::shared_ptr<const ModelWeights>& w, const std::vector<int32_t>& tokens) {
  Transformer model(w);
  KvCache cache = model.make_cache(int64_t(tokens.size()));
  std::vector<float> logits;
  model.forward(tokens.data(), int64_t(tokens.size()), cache, logits);
  return logits;
}

}  // namespace llmq::test
