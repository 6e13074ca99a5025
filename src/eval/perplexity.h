#pragma once
// Perplexity over consecutive windows, scored on the second half of each
// window as llama.cpp's perplexity tool does (protocol: shared/models/README.md).
#include <cstdint>
#include <functional>
#include <vector>

#include "model/transformer.h"

namespace llmq {

struct PerplexityOptions {
  int64_t ctx = 512;
  int64_t chunks = 200;  // 0 = every full window in the text
  int64_t score_from = -1;  // first scored position in a window; -1 = ctx / 2
};

struct PerplexityResult {
  double ppl = 0, ppl_stderr = 0;
  double mean_nll = 0;
  int64_t chunks = 0, tokens_scored = 0;
  double seconds = 0, tokens_per_second = 0;  // tokens processed (ctx * chunks) per second
  std::vector<double> chunk_nll;              // mean NLL of each chunk
};

// Number of windows the text supports (each needs ctx + 1 tokens: stride ctx).
int64_t available_chunks(int64_t n_tokens, int64_t ctx);

// `on_chunk(i, n, running_ppl)` is called after each window.
PerplexityResult perplexity(const Transformer& model, const std::vector<int32_t>& tokens, const PerplexityOptions& opt,
                            const std::function<void(int64_t, int64_t, double)>& on_chunk = {});

// log-softmax helper: negative log-likelihood of `target` under `logits` (n values).
double token_nll(const float* logits, int64_t n, int32_t target);

}  // namespace llmq
