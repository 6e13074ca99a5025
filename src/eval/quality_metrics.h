#pragma once
// Summary of a model against its base over all scored positions, with the
// uncertainties llama-perplexity reports: standard errors of means over
// tokens, perplexities carried through exp() by the delta method, and the
// PPL ratio from the paired per-token NLL difference (which cancels most of
// the text's own variance, so it is far tighter than two independent PPLs).
#include <cstdint>
#include <vector>

#include "eval/kl_divergence.h"

namespace llmq {

struct QualityMetrics {
  int64_t tokens = 0;  // scored positions

  double ppl_base = 0, ppl_base_stderr = 0;
  double ppl = 0, ppl_stderr = 0;
  // mean(nll_model - nll_base) = ln(PPL / PPL_base)
  double ln_ppl_ratio = 0, ln_ppl_ratio_stderr = 0;
  double ppl_delta = 0, ppl_delta_stderr = 0;          // PPL - PPL_base
  double ppl_delta_pct = 0, ppl_delta_pct_stderr = 0;  // 100 (PPL / PPL_base - 1)

  double kld_mean = 0, kld_stderr = 0;
  double kld_median = 0, kld_p90 = 0, kld_p99 = 0, kld_p999 = 0, kld_max = 0;

  double top1_agreement = 0, top1_agreement_stderr = 0;  // fractions in [0, 1]
  double top_p = 0.9;
  double same_top_p = 0, same_top_p_stderr = 0;
  double rms_p_diff = 0;  // RMS of Q(target) - P(target)
  double entropy_base = 0, entropy_model = 0;  // mean next-token entropies, nats

  double seconds = 0, tokens_per_second = 0;  // model evaluation time (tokens processed)
};

class QualityAccumulator {
 public:
  void add(const TokenComparison& t);
  // Needs at least one token; top_p is recorded in the result.
  QualityMetrics finish(double top_p) const;
  int64_t count() const { return n_; }

 private:
  int64_t n_ = 0;
  double sum_q_ = 0, sum_q2_ = 0, sum_b_ = 0, sum_b2_ = 0, sum_qb_ = 0;
  double sum_d_ = 0, sum_d2_ = 0, sum_kld_ = 0, sum_kld2_ = 0, sum_dp2_ = 0;
  double sum_hb_ = 0, sum_hq_ = 0;
  int64_t n_top1_ = 0, n_top_p_ = 0;
  std::vector<float> kld_;  // every token's KL, for percentiles
};

// Metrics of the base model against itself: its perplexity, zero divergence.
QualityMetrics base_self_metrics(double ppl, double ppl_stderr, int64_t tokens, double top_p);

// Value at fraction q in [0, 1] of ascending `sorted`, linearly interpolated
// between neighbours (numpy's default; llama-perplexity's too).
double percentile_sorted(const std::vector<float>& sorted, double q);

// Mean and standard error of the mean from sums over n values.
struct MeanStderr {
  double mean = 0, stderr_ = 0;
};
MeanStderr mean_and_stderr(double sum, double sum2, int64_t n);

}  // namespace llmq
