#include "eval/window_plan.h"

#include <algorithm>

#include "eval/perplexity.h"
#include "util/error.h"

namespace llmq {

WindowPlan plan_windows(int64_t n_tokens, int64_t ctx, int64_t max_windows, int64_t score_from) {
  if (ctx < 2) fail("context size must be at least 2 (got {})", ctx);
  const int64_t avail = available_chunks(n_tokens, ctx);
  if (avail == 0) fail("the text has {} tokens; a window of {} needs at least {}", n_tokens, ctx, ctx + 1);
  WindowPlan p;
  p.ctx = ctx;
  p.score_from = score_from >= 0 ? std::min(score_from, ctx - 1) : ctx / 2;
  p.windows = max_windows > 0 ? std::min(max_windows, avail) : avail;
  return p;
}

}  // namespace llmq
