#pragma once
// Models and short calibration windows shared by the calibration tests.
#include <map>
#include <memory>
#include <string>

#include "calibration/calibration_data.h"
#include "common/fixtures.h"
#include "model/model_loader.h"
#include "tokenizer/tokenizer.h"

namespace llmq::test {

// Loaded once per test program; tests that modify weights copy them first.
inline const LoadedModel& cached_model(const std::string& name) {
  static std::map<std::string, std::unique_ptr<LoadedModel>> cache;
  auto& m = cache[name];
  if (!m) m = std::make_unique<LoadedModel>(load_model(model_dir(name)));
  return *m;
}

// `n` windows of `ctx` tokens from the shared calibration text.
inline CalibrationWindows calibration_windows(const LoadedModel& m, int64_t n, int64_t ctx, uint64_t seed = 1) {
  const CalibrationText text = read_calibration_text(data_file("calibration.txt"));
  // A slice of the text is plenty for a few short windows and keeps tokenizing fast.
  const std::string slice = text.text.substr(0, size_t(std::min<int64_t>(int64_t(text.text.size()), 200000)));
  return select_windows(m.tokenizer->encode(slice, false), {n, ctx, seed});
}

}  // namespace llmq::test
