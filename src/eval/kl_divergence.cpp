#include "eval/kl_divergence.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

namespace llmq {

namespace {

// Log-softmax of the model's logits (double, so that tiny KL values are not
// lost to rounding); returns the argmax (first on ties).
// Also gives the distribution's entropy, from the exponentials it computes anyway:
// H = log(sum e) - sum e (x - max) / sum e, with e = exp(x - max).
int32_t log_softmax(const float* logits, int64_t vocab, std::vector<double>& out, double& entropy) {
  out.resize(size_t(vocab));
  float mx = logits[0];
  int32_t arg = 0;
  for (int64_t i = 1; i < vocab; ++i)
    if (logits[i] > mx) {
      mx = logits[i];
      arg = int32_t(i);
    }
  double sum = 0.0, weighted = 0.0;
  for (int64_t i = 0; i < vocab; ++i) {
    const double d = double(logits[i]) - double(mx);
    const double e = std::exp(d);
    sum += e;
    weighted += e * d;
  }
  const double lse = double(mx) + std::log(sum);
  entropy = std::log(sum) - weighted / sum;
  for (int64_t i = 0; i < vocab; ++i) out[size_t(i)] = double(logits[i]) - lse;
  return arg;
}

// Whether the model ranks the base's top-p set above every other token.
bool same_top_p_set(const LogProbRecord& base, int64_t vocab, double log_z, double top_p, CompareScratch& s) {
  if (top_p >= 1.0) return true;
  // Sort keys: stored code (monotonic in P) high to low, then token id low to high.
  const uint16_t* codes = base.codes();
  s.order.resize(size_t(vocab));
  for (int64_t i = 0; i < vocab; ++i) s.order[size_t(i)] = (uint64_t(codes[i]) << 32) | uint32_t(~uint32_t(i));
  auto id_of = [](uint64_t key) { return int64_t(~uint32_t(key & 0xffffffffu)); };

  // Sort only as much of the ranking as the set needs: most sets are small.
  double mass = 0.0;
  int64_t m = vocab, sorted = 0, chunk = 64;
  while (m == vocab && sorted < vocab) {
    const int64_t end = std::min(vocab, sorted + chunk);
    auto first = s.order.begin() + sorted, last = s.order.begin() + end;
    std::nth_element(first, last - 1, s.order.end(), std::greater<>());
    std::sort(first, last, std::greater<>());
    for (int64_t j = sorted; j < end; ++j) {
      mass += std::exp(double(base.log_prob(id_of(s.order[size_t(j)]))) - log_z);
      if (mass >= top_p) {
        m = j + 1;
        break;
      }
    }
    sorted = end;
    chunk *= 4;
  }
  if (m >= vocab) return true;

  s.in_set.assign(size_t(vocab), 0);
  double q_min_in = std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < m; ++j) {
    const int64_t id = id_of(s.order[size_t(j)]);
    s.in_set[size_t(id)] = 1;
    q_min_in = std::min(q_min_in, s.log_q[size_t(id)]);
  }
  // The base ranking is only known to the code step: tokens of the base
  // closer than that may be in either order, so the model outranking the set
  // by less than a step is no disagreement (else the base against itself
  // would "disagree" at ~1% of positions, where the set's edge is crowded).
  const double tolerance = double(base.lp_step());
  for (int64_t i = 0; i < vocab; ++i)
    if (!s.in_set[size_t(i)] && s.log_q[size_t(i)] >= q_min_in + tolerance) return false;
  return true;
}

}  // namespace

TokenComparison compare_token(const float* model_logits, const LogProbRecord& base, int64_t vocab, int32_t target,
                              double top_p, CompareScratch& s) {
  TokenComparison r;
  const int32_t model_top1 = log_softmax(model_logits, vocab, s.log_q, r.entropy_model);

  // The stored log-probs are 16-bit, so they sum to 1 only to about 1e-4:
  // renormalize (Z) so that KL(P || P) is 0 up to rounding, not the code error.
  double z = 0.0, weighted = 0.0, p_lp = 0.0;
  const float lp_min = base.lp_min(), lp_step = base.lp_step();
  const uint16_t* codes = base.codes();
  for (int64_t i = 0; i < vocab; ++i) {
    const double lp = double(lp_min + lp_step * float(codes[i]));
    const double p = std::exp(lp);
    z += p;
    weighted += p * (lp - s.log_q[size_t(i)]);
    p_lp += p * lp;
  }
  const double log_z = std::log(z);
  r.kld = std::max(0.0, weighted / z - log_z);
  r.entropy_base = log_z - p_lp / z;  // of P renormalized: -sum (p/z) log(p/z)

  r.nll_base = -double(base.target_log_prob());
  r.nll_model = -s.log_q[size_t(target)];
  r.p_diff = std::exp(-r.nll_model) - std::exp(-r.nll_base);
  r.same_top1 = base.top1() == model_top1;
  r.same_top_p = same_top_p_set(base, vocab, log_z, top_p, s);
  return r;
}

double record_entropy(const LogProbRecord& base, int64_t vocab) {
  double z = 0.0, p_lp = 0.0;
  for (int64_t i = 0; i < vocab; ++i) {
    const double lp = double(base.log_prob(i));
    const double p = std::exp(lp);
    z += p;
    p_lp += p * lp;
  }
  return std::log(z) - p_lp / z;
}

}  // namespace llmq
