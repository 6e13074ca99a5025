#pragma once
// A quick guard after quantizing: does the model still produce text, and
// still predict text about as well? Greedy generation from a few fixed
// prompts with the original and the quantized model (an output counts as
// broken when it is degenerate, repetition.h, and the original's for the
// same prompt is not, since small models loop on their own too), and the
// perplexity of both on a short held-out text.
//
// The check fails when at least half of the prompts the original answers
// sensibly come back degenerate, or when the perplexity grows by more than
// max_ppl_ratio. It is a coherence check, not a quality measure: a good
// low-bit file passes it; `quality report` says how good.
#include <cstdint>
#include <string>
#include <vector>

#include "eval/repetition.h"
#include "model/model_loader.h"

namespace llmq {

struct CoherenceOptions {
  std::vector<std::string> prompts;  // empty: the built-in prompts
  int64_t max_new_tokens = 32;
  std::string heldout_text;          // empty: the built-in paragraph
  double max_ppl_ratio = 2.0;
};

struct PromptCheck {
  std::string prompt;
  std::string original_text, quantized_text;  // the generated continuations
  std::string original_problem, quantized_problem;  // describe_degeneracy of each ("" = fine)
  bool broken() const { return original_problem.empty() && !quantized_problem.empty(); }
};

struct CoherenceReport {
  std::vector<PromptCheck> prompts;
  double ppl_original = 0, ppl_quantized = 0;
  int64_t heldout_tokens = 0;
  std::vector<std::string> failures;  // why the check failed; empty when it passed
  bool passed() const { return failures.empty(); }
};

const std::vector<std::string>& default_coherence_prompts();
const std::string& default_heldout_text();

// Both models must share a vocabulary (the original's tokenizer is used).
CoherenceReport check_coherence(const LoadedModel& original, const LoadedModel& quantized,
                                const CoherenceOptions& opt = {});

}  // namespace llmq
