#include "eval/generate.h"

#include <chrono>

#include "util/error.h"

namespace llmq {

int32_t argmax(const float* x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return int32_t(best);
}

std::vector<int32_t> generate_greedy(const Transformer& model, const std::vector<int32_t>& prompt,
                                     const GenerateOptions& opt, const std::function<void(int32_t)>& on_token, GenerateTimings* timings) {
  using Clock = std::chrono::steady_clock;
  GenerateTimings local;
  GenerateTimings& tm = timings ? *timings : local;
  tm = GenerateTimings{};
  if (prompt.empty()) fail("generation needs a non-empty prompt");
  const int64_t vocab = model.config().vocab;
  KvCache cache = model.make_cache(int64_t(prompt.size()) + opt.max_new_tokens);
  std::vector<float> logits;
  std::vector<int32_t> out;
  auto t0 = Clock::now();
  model.forward(prompt.data(), int64_t(prompt.size()), cache, logits, int64_t(prompt.size()) - 1);
  tm.prompt_tokens = int64_t(prompt.size());
  tm.prompt_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  for (int64_t i = 0; i < opt.max_new_tokens; ++i) {
    int32_t next = argmax(logits.data(), vocab);
    out.push_back(next);
    if (on_token) on_token(next);
    if (opt.stop_token && next == *opt.stop_token) break;
    if (i + 1 < opt.max_new_tokens) {
      t0 = Clock::now();
      model.forward(&next, 1, cache, logits, 0);
      tm.decode_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
      ++tm.decoded_tokens;
    }
  }
  return out;
}

}  // namespace llmq
