#pragma once
// Models and short calibration windows shared by the calibration tests.
#include <map>
#include <memory>
#include <string>

#include "calibration/calibration_data.h"
#include "common/cached_model.h"
#include "common/fixtures.h"
#include "model/model_loader.h"
#include "tokenizer/tokenizer.h"

namespace llmq::test {


// `n` windows of `ctx` tokens from the shared calibration text.
inline CalibrationWindows calibration_windows(const LoadedModel& m, int64_t n, int64_t ctx, uint64_t seed = 1) {
  // A slice of the text is plenty for a few short windows and keeps tokenizing fast;
  // tokens are cached per tokenizer.
  static std::map<const Tokenizer*, std::vector<int32_t>> tokens;
  auto& t = tokens[m.tokenizer.get()];
  if (t.empty()) t = m.tokenizer->encode(read_calibration_text(data_file("calibration.txt")).text.substr(0, 60000), false);
  return select_windows(t, {n, ctx, seed});
}

}  // namespace llmq::test
