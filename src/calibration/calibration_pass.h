#pragma once
// One forward pass over calibration windows, feeding every attached
// collector through the model's ForwardHooks. Usage:
//
//   ImportanceCollector imatrix;
//   GramCollector gram({LinearSlot::QKV});
//   CalibrationPass pass(model);
//   pass.add(imatrix);
//   pass.add(gram);
//   pass.run(windows.windows);             // or run(windows, {.first_window = k}) to resume
//   const ImportanceStats* s = imatrix.find({layer, LinearSlot::Down, -1});
//
// Only the decoder layers run (the output head is skipped): no collector
// observes the logits, and the head is the largest matmul of a small model.
#include <cstdint>
#include <functional>
#include <vector>

#include "calibration/collector.h"
#include "model/transformer.h"

namespace llmq {

struct CalibrationPassOptions {
  int64_t first_window = 0;  // windows before this one are skipped (resume)
  // After each window: index of the window, its token count.
  std::function<void(int64_t window, int64_t tokens)> on_window_done;
};

class CalibrationPass {
 public:
  explicit CalibrationPass(const Transformer& model) : model_(model) {}

  // The collector must outlive the pass; hooks reach collectors in the order added.
  void add(Collector& c) { collectors_.push_back(&c); }
  const std::vector<Collector*>& collectors() const { return collectors_; }

  void run(const std::vector<std::vector<int32_t>>& windows, const CalibrationPassOptions& opt = {});
  // One window, through a fresh KV cache.
  void run_window(const std::vector<int32_t>& tokens, int64_t index = 0);

 private:
  const Transformer& model_;
  std::vector<Collector*> collectors_;
};

}  // namespace llmq
