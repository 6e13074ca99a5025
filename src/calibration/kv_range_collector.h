#pragma once
// Largest magnitude of the keys and values each attention layer writes into
// its KV cache (keys after RoPE, as runtimes cache them), from which FP8 KV
// cache scales are set: k_scale = max|K| / 448, v_scale = max|V| / 448.
#include <cstdint>
#include <vector>

#include "calibration/collector.h"

namespace llmq {

class KvRangeCollector : public Collector {
 public:
  std::string name() const override { return "kv_range"; }
  void on_kv_cache(int layer, const float* K, const float* V, int64_t T, int64_t kv_dim) override;
  CollectorState save_state() const override;
  void load_state(const CollectorState& state) override;
  std::unique_ptr<Collector> empty_clone() const override;
  void merge(const Collector& later) override;

  // Per layer (0 for a layer no token reached).
  const std::vector<float>& k_max() const { return k_max_; }
  const std::vector<float>& v_max() const { return v_max_; }

 private:
  std::vector<float> k_max_, v_max_;
};

}  // namespace llmq
