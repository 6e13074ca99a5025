#include "eval/repetition.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace llmq {

namespace {
constexpr int64_t kMaxPeriod = 8;
constexpr int64_t kMinTokens = 8;
}  // namespace

RepetitionStats repetition_stats(const std::vector<int32_t>& t) {
  RepetitionStats s;
  const int64_t n = int64_t(t.size());
  s.tokens = n;
  s.distinct = int64_t(std::set<int32_t>(t.begin(), t.end()).size());
  for (int64_t i = 0, run = 0; i < n; ++i) {
    run = i > 0 && t[size_t(i)] == t[size_t(i - 1)] ? run + 1 : 1;
    s.longest_run = std::max(s.longest_run, run);
  }
  // A stretch with period p: t[i] == t[i - p] for every i in it, plus the
  // first p tokens it repeats.
  for (int64_t p = 1; p <= kMaxPeriod && p < n; ++p)
    for (int64_t i = p, len = 0; i < n; ++i) {
      len = t[size_t(i)] == t[size_t(i - p)] ? len + 1 : 0;
      if (len > 0 && len + p > s.loop_tokens) s.loop_tokens = len + p, s.loop_period = p;
    }
  return s;
}

std::string describe_degeneracy(const RepetitionStats& s) {
  if (s.tokens < kMinTokens) return "";
  if (s.longest_run >= std::max<int64_t>(8, s.tokens / 4))
    return fmt::format("one token repeated {} times in a row", s.longest_run);
  if (2 * s.loop_tokens >= s.tokens && s.loop_tokens >= 3 * s.loop_period)
    return fmt::format("a {}-token sequence repeated over {} of {} tokens", s.loop_period, s.loop_tokens, s.tokens);
  if (4 * s.distinct < s.tokens) return fmt::format("only {} distinct tokens in {}", s.distinct, s.tokens);
  return "";
}

}  // namespace llmq
