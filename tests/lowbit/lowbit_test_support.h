#pragma once
// Fixture models, calibration windows and evaluation shared by the low-bit
// (FP8 / FP4 / int8 / SmoothQuant) tests.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/cached_model.h"
#include "common/calibration_windows.h"
#include "common/fixtures.h"
#include "common/logits.h"
#include "eval/perplexity.h"
#include "model/model_loader.h"
#include "model/transformer.h"
#include "tokenizer/tokenizer.h"

namespace llmq::test {

// Tokens of the start of wikitext-2 test.
inline const std::vector<int32_t>& wiki_tokens(const Tokenizer& tok) {
  static std::map<const Tokenizer*, std::vector<int32_t>> cache;
  auto& tokens = cache[&tok];
  if (tokens.empty()) tokens = tok.encode(read_file(data_file("wikitext2_test.txt")).substr(0, 100000), false);
  return tokens;
}

// Perplexity on the first `chunks` windows of `ctx` tokens of wikitext-2 test
// (the weights' RuntimeQuant is simulated).
inline double wiki_ppl(const std::shared_ptr<ModelWeights>& w, const Tokenizer& tok, int64_t chunks, int64_t ctx) {
  Transformer model(w);
  PerplexityOptions po;
  po.ctx = ctx;
  po.chunks = chunks;
  return perplexity(model, wiki_tokens(tok), po).ppl;
}

}  // namespace llmq::test
