#pragma once
// How degenerate a generated token sequence is: the signs of a broken
// model's greedy output (one token over and over, a short loop, a handful
// of distinct tokens).
#include <cstdint>
#include <string>
#include <vector>

namespace llmq {

struct RepetitionStats {
  int64_t tokens = 0;
  int64_t longest_run = 0;  // most consecutive copies of one token
  int64_t loop_tokens = 0;  // length of the longest stretch that repeats with a period <= 8 ...
  int64_t loop_period = 0;  // ... and that period
  int64_t distinct = 0;     // distinct token ids
};

RepetitionStats repetition_stats(const std::vector<int32_t>& tokens);

// A one-line description of what is degenerate ("" when nothing is):
// a run of at least max(8, n/4) copies of one token, a loop of period p
// covering half the output (and at least three periods), or fewer than
// n/4 distinct tokens. Outputs under 8 tokens (an early end of text) are
// never judged.
std::string describe_degeneracy(const RepetitionStats& s);

}  // namespace llmq
