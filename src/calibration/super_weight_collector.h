#pragma once
// Activation spikes of mlp.down_proj, the signature of a "super weight"
// (Yu et al. 2024, "The Super Weight in Large Language Models"): one weight
// W[row, col] of an early down_proj turns a large input x_col into a massive
// output y_row. Per down_proj (per expert in MoE layers) this records the
// largest |y| seen, its output channel (row), the input channel with the
// largest |x| on that same token (col), and the largest |x| overall.
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "calibration/collector.h"

namespace llmq {

struct DownProjSpike {
  float max_out = 0;        // largest |y| over all tokens and channels
  int64_t row = -1;         // its output channel
  int64_t col = -1;         // largest-|x| input channel on that token
  float in_at_peak = 0;     // |x_col| on that token
  float max_in = 0;         // largest |x| over all tokens and channels
  int64_t max_in_col = -1;  // its input channel
  int64_t window = -1, position = -1;  // where the output peak happened
};

class SuperWeightCollector : public Collector {
 public:
  std::string name() const override { return "down_spikes"; }
  void begin_window(int64_t index, int64_t tokens) override { window_ = index; }
  void on_linear_input(int layer, LinearSlot slot, int expert, float* X, int64_t T, int64_t in) override;
  void on_linear_output(int layer, LinearSlot slot, int which, int expert, const float* Y, int64_t T,
                        int64_t out) override;
  void on_moe_routing(int layer, const int32_t* experts, const float* weights, int64_t T, int64_t k) override;
  CollectorState save_state() const override;
  void load_state(const CollectorState& state) override;
  std::unique_ptr<Collector> empty_clone() const override;
  void merge(const Collector& later) override;

  // Keyed by (layer, expert); expert is -1 for dense MLPs.
  const std::map<std::pair<int, int>, DownProjSpike>& spikes() const { return spikes_; }

 private:
  std::map<std::pair<int, int>, DownProjSpike> spikes_;
  int64_t window_ = 0;
  // Per token of the down_proj input in flight: largest |x| and its channel.
  std::vector<float> token_max_in_;
  std::vector<int64_t> token_argmax_in_;
  // MoE: token positions of the rows routed to each expert in the current layer.
  std::vector<std::vector<int64_t>> expert_rows_;
};

}  // namespace llmq
