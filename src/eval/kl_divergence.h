#pragma once
// How one position's next-token distribution of a model (usually a quantized
// one, Q) differs from the base model's (P, stored as a LogProbRecord).
//
// Definitions (natural logs throughout):
//   KL divergence   KL(P || Q) = sum_i P(i) (log P(i) - log Q(i)), as
//                   llama.cpp's perplexity --kl-divergence reports it.
//   top-1 agreement argmax P == argmax Q.
//   same top-p set  S = the smallest set of tokens, taken in order of
//                   decreasing P, whose P-mass reaches p (ties in the stored
//                   P broken by lower token id); m = |S|. The position counts
//                   as "same" when the m tokens Q ranks highest are exactly S,
//                   i.e. no token outside S has a log Q reaching the lowest
//                   log Q in S plus the record's code step (~3e-4 nats: the
//                   resolution at which the base ranking is known, so that
//                   P compared with itself is always "same"). p = 1 makes S
//                   the whole vocabulary.
#include <cstdint>
#include <vector>

#include "eval/log_prob_codec.h"

namespace llmq {

struct TokenComparison {
  double kld = 0;                 // KL(P_base || P_model), nats
  double nll_base = 0, nll_model = 0;  // -log P(target), -log Q(target)
  double p_diff = 0;              // Q(target) - P(target)
  // Entropies of P and Q, nats: a quantized model that is systematically more
  // (or less) confident than the original shows here before it shows in KL.
  double entropy_base = 0, entropy_model = 0;
  bool same_top1 = false, same_top_p = false;
};

// Per-thread working memory, so comparing a position allocates nothing.
struct CompareScratch {
  std::vector<double> log_q;
  std::vector<uint64_t> order;
  std::vector<uint8_t> in_set;
};

// Compares the model's logits at one position with the base record for it.
// `target` is the token that actually follows; top_p in (0, 1].
TokenComparison compare_token(const float* model_logits, const LogProbRecord& base, int64_t vocab, int32_t target,
                              double top_p, CompareScratch& scratch);

// The entropy (nats) of a stored distribution, renormalized as compare_token does.
double record_entropy(const LogProbRecord& base, int64_t vocab);

}  // namespace llmq
