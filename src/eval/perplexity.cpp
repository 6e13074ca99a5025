#include "eval/perplexity.h"

#include <chrono>
#include <cmath>

#include "util/error.h"

namespace llmq {

int64_t available_chunks(int64_t n_tokens, int64_t ctx) {
  if (n_tokens < ctx + 1) return 0;
  return (n_tokens - 1) / ctx;  // chunk i needs tokens[i*ctx .. i*ctx + ctx]
}

double token_nll(const float* logits, int64_t n, int32_t target) {
  float mx = logits[0];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, logits[i]);
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(double(logits[i] - mx));
  return std::log(s) + double(mx) - double(logits[target]);
}

PerplexityResult perplexity(const Transformer& model, const std::vector<int32_t>& tokens, const PerplexityOptions& opt,
                            const std::function<void(int64_t, int64_t, double)>& on_chunk) {
  const int64_t ctx = opt.ctx;
  if (ctx < 2) fail("context size must be at least 2 (got {})", ctx);
  const int64_t avail = available_chunks(int64_t(tokens.size()), ctx);
  if (avail == 0)
    fail("the text has {} tokens; perplexity needs at least ctx + 1 = {}", tokens.size(), ctx + 1);
  const int64_t n_chunks = opt.chunks > 0 ? std::min(opt.chunks, avail) : avail;
  const int64_t from = opt.score_from >= 0 ? std::min(opt.score_from, ctx - 1) : ctx / 2;
  const int64_t vocab = model.config().vocab;

  PerplexityResult r;
  auto t0 = std::chrono::steady_clock::now();
  KvCache cache = model.make_cache(ctx);
  std::vector<float> logits;
  double sum = 0.0, sum2 = 0.0;
  int64_t count = 0;
  for (int64_t c = 0; c < n_chunks; ++c) {
    const int32_t* win = tokens.data() + c * ctx;
    cache.clear();
    model.forward(win, ctx, cache, logits, from);
    double chunk_sum = 0.0;
    std::vector<double> nll(size_t(ctx - from));
#pragma omp parallel for schedule(static)
    for (int64_t p = from; p < ctx; ++p)
      nll[size_t(p - from)] = token_nll(logits.data() + (p - from) * vocab, vocab, win[p + 1]);
    for (double v : nll) {
      chunk_sum += v;
      sum += v;
      sum2 += v * v;
    }
    count += ctx - from;
    // NaN or Inf logits mean non-finite weights, activations or config values: a number printed
    // from them would look like a result, so stop here.
    if (!std::isfinite(chunk_sum))
      fail("window {} gives a non-finite log-likelihood: the model computes NaN or Inf (check its weights and config)", c);
    r.chunk_nll.push_back(chunk_sum / double(ctx - from));
    if (on_chunk) on_chunk(c, n_chunks, std::exp(sum / double(count)));
  }
  r.chunks = n_chunks;
  r.tokens_scored = count;
  r.mean_nll = sum / double(count);
  r.ppl = std::exp(r.mean_nll);
  // Standard error of the mean NLL, carried to PPL by the delta method (as llama-perplexity reports it).
  const double var = std::max(0.0, sum2 / double(count) - r.mean_nll * r.mean_nll);
  r.ppl_stderr = count > 1 ? r.ppl * std::sqrt(var / double(count - 1)) : 0.0;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.tokens_per_second = r.seconds > 0 ? double(n_chunks * ctx) / r.seconds : 0.0;
  return r;
}

}  // namespace llmq
