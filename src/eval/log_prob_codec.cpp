#include "eval/log_prob_codec.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace llmq {

int64_t log_prob_record_bytes(int64_t vocab) { return kLogProbRecordHeaderBytes + 2 * ((vocab + 7) / 8 * 8); }

void encode_log_probs(const float* logits, int64_t vocab, int32_t target, uint8_t* record) {
  float mx = logits[0], mn = logits[0];
  int32_t top1 = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    const float l = logits[i];
    if (std::isnan(l)) fail("logit of token {} is NaN", i);
    if (l > mx) {
      mx = l;
      top1 = int32_t(i);
    }
    mn = std::min(mn, l);
  }
  double sum = 0.0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(double(logits[i]) - double(mx));
  const double lse = double(mx) + std::log(sum);

  // Codes are taken relative to the logits themselves (not the log-probs) so
  // that no precision is lost subtracting the log-sum-exp first.
  const double floor_logit = std::max(double(mn), double(mx) - kLogProbRange);
  const double range = double(mx) - floor_logit;
  const double step = range > 0 ? range / 65535.0 : 0.0;
  const double inv = step > 0 ? 1.0 / step : 0.0;

  const float lp_min = float(floor_logit - lse);
  const float lp_step = float(step);
  const float target_lp = float(double(logits[target]) - lse);
  std::memcpy(record + 0, &lp_min, 4);
  std::memcpy(record + 4, &lp_step, 4);
  std::memcpy(record + 8, &target_lp, 4);
  std::memcpy(record + 12, &top1, 4);
  uint16_t* codes = reinterpret_cast<uint16_t*>(record + kLogProbRecordHeaderBytes);
  for (int64_t i = 0; i < vocab; ++i) {
    const double c = std::nearbyint((std::max(double(logits[i]), floor_logit) - floor_logit) * inv);
    codes[i] = uint16_t(std::min(c, 65535.0));
  }
  const int64_t padded = (log_prob_record_bytes(vocab) - kLogProbRecordHeaderBytes) / 2;
  std::fill(codes + vocab, codes + padded, uint16_t(0));
}

}  // namespace llmq
