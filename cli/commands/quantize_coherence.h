#pragma once
// `quantize ... --coherence-check`: after the file is written, generate from
// a few fixed prompts with it and compare its held-out perplexity with the
// original's (eval/coherence_check.h). A failure keeps the file and ends the
// command with exit code 3.
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "eval/coherence_check.h"

namespace llmq::cli {

struct CoherenceArgs {
  bool enabled = false;
  double max_ppl_ratio = 2.0;
};

void add_coherence_options(CLI::App* cmd, CoherenceArgs& a);

// Loads both models and runs the check (nullopt when not enabled).
std::optional<CoherenceReport> run_coherence_check(const CoherenceArgs& a, const std::string& original,
                                                   const std::string& written);
nlohmann::json coherence_json(const CoherenceReport& r);
void print_coherence(const CoherenceReport& r);
// Throws QualityGateFailure (exit code 3) naming the kept file when the check failed.
void enforce_coherence(const CoherenceReport& r, const std::string& written);

}  // namespace llmq::cli
