#pragma once
// Runs a model over the windows of saved base logits and compares every
// scored position with the base (KL divergence, top-1 / top-p agreement,
// perplexity of both and their paired difference).
#include <cstdint>
#include <functional>

#include "eval/logit_store.h"
#include "eval/quality_metrics.h"
#include "model/transformer.h"

namespace llmq {

struct QualityEvalOptions {
  double top_p = 0.9;  // for the same-top-p-set rate; in (0, 1]
  ForwardHooks* hooks = nullptr;  // applied to the quantized model's forward pass (not the base's)
};

// `on_window(done, total)` after each window. Throws llmq::Error if the
// model's vocabulary differs from the base's.
QualityMetrics evaluate_quality(const Transformer& model, const BaseLogits& base, const QualityEvalOptions& opt,
                                const std::function<void(int64_t, int64_t)>& on_window = {});

// The base model's own numbers from its saved logits (no forward pass):
// perplexity from the exact target log-probs, zero divergence.
QualityMetrics base_metrics(const BaseLogits& base, const QualityEvalOptions& opt);

}  // namespace llmq
