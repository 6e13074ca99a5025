#pragma once
// Which token windows a quality comparison scores: the perplexity protocol
// (windows of ctx tokens, stride ctx, window i = tokens[i*ctx .. i*ctx + ctx],
// positions score_from .. ctx-1 scored, each predicting the next token).
#include <cstdint>

namespace llmq {

struct WindowPlan {
  int64_t ctx = 512;
  int64_t score_from = 256;  // first scored position of a window
  int64_t windows = 0;

  int64_t scored_per_window() const { return ctx - score_from; }
  int64_t scored_tokens() const { return windows * scored_per_window(); }
  // Tokens the windows read: the last window's final target included.
  int64_t tokens_needed() const { return windows * ctx + 1; }
};

// Plans up to max_windows windows (0 = as many as the text holds) over a text
// of n_tokens. score_from < 0 means ctx / 2. Throws llmq::Error when the text
// is shorter than one window (ctx + 1 tokens) or ctx < 2.
WindowPlan plan_windows(int64_t n_tokens, int64_t ctx, int64_t max_windows, int64_t score_from = -1);

}  // namespace llmq
