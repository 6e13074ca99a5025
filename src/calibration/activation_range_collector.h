#pragma once
// Per-channel activation magnitudes of every linear input: max |x_j| (the
// statistic of SmoothQuant's migration scales) and the sum of |x_j| (whose
// mean is AWQ's per-channel salience). Keyed like the importance matrix.
#include <cstdint>
#include <map>
#include <vector>

#include "calibration/collector.h"

namespace llmq {

struct ActivationRange {
  std::vector<float> max_abs;   // per input channel
  std::vector<double> sum_abs;  // per input channel
  int64_t tokens = 0;
  std::vector<float> mean_abs() const;  // zeros when no token was seen
};

class ActivationRangeCollector : public Collector {
 public:
  std::string name() const override { return "act_range"; }
  void on_linear_input(int layer, LinearSlot slot, int expert, float* X, int64_t T, int64_t in) override;
  CollectorState save_state() const override;
  void load_state(const CollectorState& state) override;
  std::unique_ptr<Collector> empty_clone() const override;
  void merge(const Collector& later) override;

  const ActivationRange* find(const LinearKey& k) const;
  const std::map<LinearKey, ActivationRange>& stats() const { return stats_; }

 private:
  std::map<LinearKey, ActivationRange> stats_;
};

}  // namespace llmq
