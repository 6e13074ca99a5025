#include "eval/quality_eval.h"

#include <omp.h>

#include <chrono>
#include <cmath>

#include "util/error.h"

namespace llmq {

static void check_top_p(double top_p) {
  if (!(top_p > 0.0 && top_p <= 1.0)) fail("top-p must be in (0, 1] (got {})", top_p);
}

QualityMetrics evaluate_quality(const Transformer& model, const BaseLogits& base, const QualityEvalOptions& opt,
                                const std::function<void(int64_t, int64_t)>& on_window) {
  check_top_p(opt.top_p);
  const int64_t vocab = model.config().vocab;
  if (vocab != base.vocab())
    fail("the model has a vocabulary of {} tokens but the base logits ({}) have {}", vocab, base.path(), base.vocab());
  const WindowPlan& plan = base.plan();
  const int64_t n_scored = plan.scored_per_window();

  const auto t0 = std::chrono::steady_clock::now();
  QualityAccumulator acc;
  KvCache cache = model.make_cache(plan.ctx);
  std::vector<float> logits;
  std::vector<TokenComparison> window(static_cast<size_t>(n_scored));
  std::vector<CompareScratch> scratch(static_cast<size_t>(omp_get_max_threads()));
  for (int64_t w = 0; w < plan.windows; ++w) {
    const int32_t* win = base.window_tokens(w);
    cache.clear();
    model.forward(win, plan.ctx, cache, logits, plan.score_from, opt.hooks);
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t i = 0; i < n_scored; ++i)
      window[size_t(i)] = compare_token(logits.data() + i * vocab, base.record(w, i), vocab,
                                        win[plan.score_from + i + 1], opt.top_p,
                                        scratch[size_t(omp_get_thread_num())]);
    for (const TokenComparison& t : window) acc.add(t);  // in order: results do not depend on threads
    if (on_window) on_window(w + 1, plan.windows);
  }
  QualityMetrics m = acc.finish(opt.top_p);
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  m.tokens_per_second = m.seconds > 0 ? double(plan.windows * plan.ctx) / m.seconds : 0.0;
  return m;
}

QualityMetrics base_metrics(const BaseLogits& base, const QualityEvalOptions& opt) {
  check_top_p(opt.top_p);
  const WindowPlan& plan = base.plan();
  double sum = 0, sum2 = 0, entropy = 0;
  for (int64_t w = 0; w < plan.windows; ++w) {
    std::vector<double> h(size_t(plan.scored_per_window()));
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < plan.scored_per_window(); ++i) h[size_t(i)] = record_entropy(base.record(w, i), base.vocab());
    for (int64_t i = 0; i < plan.scored_per_window(); ++i) {  // in order: the sums do not depend on threads
      const double nll = -double(base.record(w, i).target_log_prob());
      sum += nll;
      sum2 += nll * nll;
      entropy += h[size_t(i)];
    }
  }
  const MeanStderr s = mean_and_stderr(sum, sum2, plan.scored_tokens());
  const double ppl = std::exp(s.mean);
  QualityMetrics m = base_self_metrics(ppl, ppl * s.stderr_, plan.scored_tokens(), opt.top_p);
  m.entropy_base = m.entropy_model = entropy / double(plan.scored_tokens());
  return m;
}

}  // namespace llmq
