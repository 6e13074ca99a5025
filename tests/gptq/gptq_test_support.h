#pragma once
// Fixture model, calibration windows and evaluation shared by the GPTQ/AWQ tests.
#include <map>
#include <memory>
#include <string>

#include "calibration/calibration_data.h"
#include "common/cached_model.h"
#include "common/calibration_windows.h"
#include "common/fixtures.h"
#include "eval/perplexity.h"
#include "export/hf/loaders/hf_quant_loader.h"
#include "model/model_loader.h"
#include "tokenizer/tokenizer.h"

namespace llmq::test {

// Perplexity on the first `chunks` windows of `ctx` tokens of wikitext-2 test.
inline double wiki_ppl(const std::shared_ptr<ModelWeights>& w, const Tokenizer& tok, int64_t chunks, int64_t ctx) {
  static std::map<const Tokenizer*, std::vector<int32_t>> cache;
  auto& tokens = cache[&tok];
  if (tokens.empty()) {
    const std::string text = read_file(data_file("wikitext2_test.txt"));
    tokens = tok.encode(text.substr(0, 100000), false);
  }
  Transformer model(w);
  PerplexityOptions po;
  po.ctx = ctx;
  po.chunks = chunks;
  return perplexity(model, tokens, po).ppl;
}

}  // namespace llmq::test
