#pragma once
// Calibration windows from the shared calibration text, for tests of methods
// that calibrate (GPTQ, AWQ, SmoothQuant, FP8 static scales, ...).
#include <algorithm>
#include <map>
#include <vector>

#include "calibration/calibration_data.h"
#include "common/fixtures.h"
#include "model/model_loader.h"
#include "tokenizer/tokenizer.h"

namespace llmq::test {

// `n` windows of `ctx` tokens (seed 1) from the first 100 kB of calibration.txt.
inline std::vector<std::vector<int32_t>> calib_windows(const LoadedModel& m, int64_t n, int64_t ctx) {
  static std::map<const Tokenizer*, std::vector<int32_t>> cache;  // tokenizing is the slow part
  auto& tokens = cache[m.tokenizer.get()];
  if (tokens.empty()) {
    const CalibrationText text = read_calibration_text(data_file("calibration.txt"));
    tokens = m.tokenizer->encode(text.text.substr(0, std::min<size_t>(text.text.size(), 100000)), false);
  }
  return select_windows(tokens, {n, ctx, 1}).windows;
}

}  // namespace llmq::test
