#include "eval/quality_metrics.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace llmq {

MeanStderr mean_and_stderr(double sum, double sum2, int64_t n) {
  MeanStderr r;
  if (n <= 0) return r;
  r.mean = sum / double(n);
  const double var = std::max(0.0, sum2 / double(n) - r.mean * r.mean);
  r.stderr_ = n > 1 ? std::sqrt(var / double(n - 1)) : 0.0;
  return r;
}

double percentile_sorted(const std::vector<float>& sorted, double q) {
  if (sorted.empty()) return 0.0;
  const double pos = std::clamp(q, 0.0, 1.0) * double(sorted.size() - 1);
  const size_t lo = size_t(pos);
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double f = pos - double(lo);
  return (1.0 - f) * double(sorted[lo]) + f * double(sorted[hi]);
}

void QualityAccumulator::add(const TokenComparison& t) {
  ++n_;
  sum_q_ += t.nll_model;
  sum_q2_ += t.nll_model * t.nll_model;
  sum_b_ += t.nll_base;
  sum_b2_ += t.nll_base * t.nll_base;
  sum_qb_ += t.nll_model * t.nll_base;
  const double d = t.nll_model - t.nll_base;
  sum_d_ += d;
  sum_d2_ += d * d;
  sum_kld_ += t.kld;
  sum_kld2_ += t.kld * t.kld;
  sum_dp2_ += t.p_diff * t.p_diff;
  sum_hb_ += t.entropy_base;
  sum_hq_ += t.entropy_model;
  n_top1_ += t.same_top1;
  n_top_p_ += t.same_top_p;
  kld_.push_back(float(t.kld));
}

// Standard error of a rate k / n (binomial).
static double rate_stderr(double rate, int64_t n) {
  return n > 1 ? std::sqrt(std::max(0.0, rate * (1.0 - rate)) / double(n - 1)) : 0.0;
}

QualityMetrics QualityAccumulator::finish(double top_p) const {
  if (n_ == 0) fail("no tokens were compared");
  QualityMetrics m;
  m.tokens = n_;
  const double n = double(n_);
  const MeanStderr q = mean_and_stderr(sum_q_, sum_q2_, n_), b = mean_and_stderr(sum_b_, sum_b2_, n_);
  m.ppl = std::exp(q.mean);
  m.ppl_stderr = m.ppl * q.stderr_;
  m.ppl_base = std::exp(b.mean);
  m.ppl_base_stderr = m.ppl_base * b.stderr_;

  const MeanStderr d = mean_and_stderr(sum_d_, sum_d2_, n_);
  m.ln_ppl_ratio = d.mean;
  m.ln_ppl_ratio_stderr = d.stderr_;
  const double ratio = std::exp(d.mean);
  m.ppl_delta_pct = 100.0 * (ratio - 1.0);
  m.ppl_delta_pct_stderr = 100.0 * ratio * d.stderr_;
  // PPL - PPL_base linearised around the means: the variance of
  // PPL * nll_model - PPL_base * nll_base per token, with their covariance.
  m.ppl_delta = m.ppl - m.ppl_base;
  const double var_q = std::max(0.0, sum_q2_ / n - q.mean * q.mean);
  const double var_b = std::max(0.0, sum_b2_ / n - b.mean * b.mean);
  const double cov = sum_qb_ / n - q.mean * b.mean;
  const double var_delta = m.ppl * m.ppl * var_q + m.ppl_base * m.ppl_base * var_b - 2.0 * m.ppl * m.ppl_base * cov;
  m.ppl_delta_stderr = n_ > 1 ? std::sqrt(std::max(0.0, var_delta) / (n - 1.0)) : 0.0;

  const MeanStderr k = mean_and_stderr(sum_kld_, sum_kld2_, n_);
  m.kld_mean = k.mean;
  m.kld_stderr = k.stderr_;
  std::vector<float> sorted = kld_;
  std::sort(sorted.begin(), sorted.end());
  m.kld_median = percentile_sorted(sorted, 0.5);
  m.kld_p90 = percentile_sorted(sorted, 0.90);
  m.kld_p99 = percentile_sorted(sorted, 0.99);
  m.kld_p999 = percentile_sorted(sorted, 0.999);
  m.kld_max = double(sorted.back());

  m.top1_agreement = double(n_top1_) / n;
  m.top1_agreement_stderr = rate_stderr(m.top1_agreement, n_);
  m.top_p = top_p;
  m.same_top_p = double(n_top_p_) / n;
  m.same_top_p_stderr = rate_stderr(m.same_top_p, n_);
  m.rms_p_diff = std::sqrt(sum_dp2_ / n);
  m.entropy_base = sum_hb_ / n;
  m.entropy_model = sum_hq_ / n;
  return m;
}

QualityMetrics base_self_metrics(double ppl, double ppl_stderr, int64_t tokens, double top_p) {
  QualityMetrics m;
  m.tokens = tokens;
  m.ppl = m.ppl_base = ppl;
  m.ppl_stderr = m.ppl_base_stderr = ppl_stderr;
  m.top1_agreement = m.same_top_p = 1.0;
  m.top_p = top_p;
  return m;
}

}  // namespace llmq
