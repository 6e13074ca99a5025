#pragma once
// The importance matrix of llama.cpp's imatrix tool: for every linear input,
// the sum over calibration tokens of x_j^2 per input channel j, and the
// number of tokens. Weight-quantization error on column j of a weight is
// scaled by E[x_j^2], so quantizers spend precision where inputs are large.
//
// Inputs are keyed by LinearKey: q/k/v share one entry (they read the same
// activations), as do gate/up; MoE experts have one entry each, counting
// only the tokens routed to them.
#include <cstdint>
#include <map>
#include <vector>

#include "calibration/collector.h"
#include "model/config.h"

namespace llmq {

struct ImportanceStats {
  std::vector<double> sum_sq;  // per input channel
  int64_t tokens = 0;
  // E[x_j^2]; ones when no token was seen (llama.cpp's convention for unused experts).
  std::vector<float> mean_sq() const;
};

class ImportanceCollector : public Collector {
 public:
  std::string name() const override { return "imatrix"; }
  void on_linear_input(int layer, LinearSlot slot, int expert, float* X, int64_t T, int64_t in) override;
  CollectorState save_state() const override;
  void load_state(const CollectorState& state) override;
  std::unique_ptr<Collector> empty_clone() const override;
  void merge(const Collector& later) override;

  const ImportanceStats* find(const LinearKey& k) const;
  const std::map<LinearKey, ImportanceStats>& stats() const { return stats_; }

 private:
  std::map<LinearKey, ImportanceStats> stats_;
};

// Adds sum over the T rows of X[T, n] of x^2 to acc[n], row by row in order
// (so the result does not depend on the thread count).
void accumulate_sum_of_squares(const float* X, int64_t T, int64_t n, double* acc);

}  // namespace llmq
