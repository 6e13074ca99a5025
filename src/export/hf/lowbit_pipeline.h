#pragma once
// `quantize MODEL fp8|fp4|int8|smoothquant` as a library call: load the
// checkpoint, tokenize calibration windows when the scheme needs statistics,
// quantize (smoothing first for SmoothQuant), write the compressed-tensors
// checkpoint atomically. The CLI only parses options and prints the result.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "calibration/calibration_data.h"
#include "export/hf/lowbit_model.h"

namespace llmq {

struct LowbitQuantizeJob {
  std::string model_dir;
  std::string output_dir;        // empty: <model_dir>-<scheme name> beside the model
  LowbitScheme scheme;
  std::string calibration_path;  // empty: default_calibration_path(model_dir)
  WindowOptions windows;
  std::string checkpoint_dir;    // resume checkpoint; empty: <output_dir>.checkpoint
  bool restart = false;          // ignore an existing one
};

struct LowbitQuantizeOutcome {
  std::string output_dir;
  int64_t quantized_linears = 0;
  uint64_t bytes = 0, source_bytes = 0;
  int64_t calibration_windows = 0, calibration_tokens = 0;
  double seconds = 0;
  std::vector<std::string> warnings;
  nlohmann::json report;
  int resumed_layers = 0;  // layers taken from the resume checkpoint of an earlier run
};

// Sizes, calibration, timing and the quantizer's report (scheme, activation
// outliers, smoothing, KV scales) as one JSON object.
nlohmann::json lowbit_outcome_json(const LowbitQuantizeOutcome& r);

std::string default_lowbit_output(const LowbitQuantizeJob& job);

// Throws llmq::Error (bad options, unreadable model or calibration file,
// output == input) before any long work when it can.
LowbitQuantizeOutcome run_lowbit_quantize(const LowbitQuantizeJob& job, const LinearProgressFn& progress = {});

}  // namespace llmq
