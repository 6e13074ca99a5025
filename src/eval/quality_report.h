#pragma once
// Presentation of quality comparisons: one row per model (the base and each
// quantized file), as a text table sorted by size, JSON, or an SVG plot of
// KL divergence and perplexity against bits per weight.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/quality_gate.h"
#include "eval/quality_metrics.h"

namespace llmq {

struct QualityRow {
  std::string label;  // what the table shows (file or directory name)
  std::string path, format, dtype;
  bool is_base = false;
  uint64_t file_bytes = 0;  // bytes of weight data on disk
  int64_t n_params = 0;
  QualityMetrics metrics;
  std::optional<GateVerdict> gate;  // when thresholds were given (quantized rows only)

  // Bits per weight: file bytes * 8 / parameters.
  double bpw() const { return n_params > 0 ? double(file_bytes) * 8.0 / double(n_params) : 0.0; }
};

// Short labels: the last path component, or the whole path where two rows
// would otherwise share a label.
void assign_labels(std::vector<QualityRow>& rows);

// Largest first (the base usually on top), then by label.
void sort_by_size(std::vector<QualityRow>& rows);

// Model | Perplexity | Delta | KLD | Top-1 | Size | BPW, rows in the given order.
std::string format_quality_table(const std::vector<QualityRow>& rows);

// Every number of one quantized row, one per line (the `quality report` text output).
std::string format_quality_details(const QualityRow& row);

// Every field of a row; rows_to_json gives an array in the given order.
nlohmann::json row_to_json(const QualityRow& row);
nlohmann::json rows_to_json(const std::vector<QualityRow>& rows);

// "12.3 MiB", "1.20 GiB"
std::string format_bytes(uint64_t bytes);

enum class PlotMetric { Kld, Perplexity, Both };
// KLD (log scale; the base, at 0, is left out) and/or perplexity (with the
// base's as a dashed line) against bits per weight, one labelled point per row.
std::string quality_plot_svg(const std::vector<QualityRow>& rows, PlotMetric metric, const std::string& title);

}  // namespace llmq
