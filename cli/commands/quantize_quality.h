#pragma once
// `quantize ... --quality-report`: the quality table of the file just
// written against its original (perplexity, KL divergence, top-1, size),
// computed as `quality report` does, on --quality-data.
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "eval/quality_report.h"

namespace llmq::cli {

struct QuantizeQualityArgs {
  bool enabled = false;
  std::string data;
  int64_t chunks = 20, ctx = 512;
};

void add_quantize_quality_options(CLI::App* cmd, QuantizeQualityArgs& a);
// Fails (usage) before any work when --quality-report lacks --quality-data.
void check_quantize_quality_args(const QuantizeQualityArgs& a);

// Rows: the original, then the quantized file.
std::vector<QualityRow> quantize_quality_rows(const std::string& original, const std::string& quantized,
                                              const QuantizeQualityArgs& a, bool show_progress);

}  // namespace llmq::cli
