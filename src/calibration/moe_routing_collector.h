#pragma once
// MoE routing statistics per layer: how many token slots each expert
// received (each token fills k slots, so a layer's counts sum to tokens * k)
// and the mean routing weight it was given. Rarely chosen experts see little
// calibration data; quantizers and reports use these numbers to notice.
#include <cstdint>
#include <map>
#include <vector>

#include "calibration/collector.h"

namespace llmq {

struct MoeRoutingStats {
  std::vector<int64_t> counts;      // per expert
  std::vector<double> weight_sum;   // per expert, sum of routing weights
  int64_t tokens = 0;               // tokens routed in this layer
  int64_t top_k = 0;
  std::vector<double> mean_weight() const;  // per expert; 0 for unused experts
};

class MoeRoutingCollector : public Collector {
 public:
  // n_experts sizes the per-layer arrays, so experts never chosen still appear.
  explicit MoeRoutingCollector(int64_t n_experts) : n_experts_(n_experts) {}
  std::string name() const override { return "moe_routing"; }
  void on_moe_routing(int layer, const int32_t* experts, const float* weights, int64_t T, int64_t k) override;
  CollectorState save_state() const override;
  void load_state(const CollectorState& state) override;
  std::unique_ptr<Collector> empty_clone() const override;
  void merge(const Collector& later) override;

  const std::map<int, MoeRoutingStats>& layers() const { return layers_; }

 private:
  int64_t n_experts_;
  std::map<int, MoeRoutingStats> layers_;
};

}  // namespace llmq
