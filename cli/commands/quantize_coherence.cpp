#include "quantize_coherence.h"

#include <fmt/format.h>

#include "../cli_common.h"
#include "model/model_loader.h"

namespace llmq::cli {

void add_coherence_options(CLI::App* cmd, CoherenceArgs& a) {
  cmd->add_flag("--coherence-check", a.enabled,
                "After writing, generate from a few fixed prompts and measure held-out perplexity with the new file; "
                "exit code 3 (file kept) if the output is degenerate or the perplexity grew too much");
  cmd->add_option("--coherence-max-ppl-ratio", a.max_ppl_ratio,
                  "Largest held-out perplexity of the new file, as a multiple of the original's")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e6));
}

std::optional<CoherenceReport> run_coherence_check(const CoherenceArgs& a, const std::string& original,
                                                   const std::string& written) {
  if (!a.enabled) return std::nullopt;
  CoherenceOptions o;
  o.max_ppl_ratio = a.max_ppl_ratio;
  return check_coherence(load_model(original, {.lazy = true}), load_model(written, {.lazy = true}), o);
}

nlohmann::json coherence_json(const CoherenceReport& r) {
  nlohmann::json prompts = nlohmann::json::array();
  for (const PromptCheck& c : r.prompts)
    prompts.push_back({{"prompt", c.prompt},
                       {"original", c.original_text},
                       {"quantized", c.quantized_text},
                       {"original_problem", c.original_problem},
                       {"quantized_problem", c.quantized_problem},
                       {"broken", c.broken()}});
  return {{"passed", r.passed()},          {"failures", r.failures},
          {"prompts", prompts},            {"heldout_tokens", r.heldout_tokens},
          {"ppl_original", r.ppl_original}, {"ppl_quantized", r.ppl_quantized}};
}

void print_coherence(const CoherenceReport& r) {
  fmt::print("coherence check:\n");
  for (const PromptCheck& c : r.prompts) {
    const std::string verdict = c.broken()                    ? "DEGENERATE: " + c.quantized_problem
                                : !c.original_problem.empty() ? "not judged (the original's output is degenerate too)"
                                                              : "ok";
    fmt::print("  \"{}\" -> {}\n      {:?}\n", c.prompt, verdict, c.quantized_text);
  }
  fmt::print("  held-out perplexity: {:.2f} (original {:.2f}, {} tokens)\n", r.ppl_quantized, r.ppl_original,
             r.heldout_tokens);
  fmt::print("coherence check {}\n", r.passed() ? "passed" : "FAILED");
}

void enforce_coherence(const CoherenceReport& r, const std::string& written) {
  if (r.passed()) return;
  std::string why;
  for (const std::string& f : r.failures) why += (why.empty() ? "" : "; ") + f;
  throw QualityGateFailure{fmt::format("coherence check failed: {}. The quantized file was kept: {}", why, written)};
}

}  // namespace llmq::cli
