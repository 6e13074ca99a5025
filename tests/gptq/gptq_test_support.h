#pragma once
// Fixture model, calibration windows and evaluation shared by the GPTQ/AWQ tests.
#include <map>
#include <memory>
#include <string>

#include "calibration/calibration_data.h"
#include "common/cached_model.h"
#include "common/fixtures.h"
#include "eval/perplexity.h"
#include "export/hf/loaders/hf_quant_loader.h"
#include "model/model_loader.h"
#include "tokenizer/tokenizer.h"

namespace llmq::test {


// `n` windows of `ctx` tokens from the shared calibration text.
inline std::vector<std::vector<int32_t>> calib_windows(const LoadedModel& m, int64_t n, int64_t ctx) {
  static std::map<const Tokenizer*, std::vector<int32_t>> cache;  // tokenizing is the slow part
  auto& tokens = cache[m.tokenizer.get()];
  if (tokens.empty()) {
    const CalibrationText text = read_calibration_text(data_file("calibration.txt"));
    tokens = m.tokenizer->encode(text.text.substr(0, std::min<size_t>(text.text.size(), 100000)), false);
  }
  return select_windows(tokens, {n, ctx, 1}).windows;
}

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
