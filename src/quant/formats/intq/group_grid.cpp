#include "quant/formats/intq/group_grid.h"

namespace llmq {

GroupGrid fit_group_grid(float wmin, float wmax, const IntQuantSpec& spec, float shrink) {
  const int maxq = spec.maxq();
  float lo = std::min(wmin, 0.0f) * shrink, hi = std::max(wmax, 0.0f) * shrink;
  GroupGrid g;
  if (spec.sym) {
    const float amax = std::max(-lo, hi);
    g.scale = round_scale_to_storage(amax > 0.0f ? 2.0f * amax / float(maxq) : 1.0f, spec.scale_storage);
    g.zero = spec.sym_zero();
    return g;
  }
  if (hi - lo <= 0.0f) {  // an all-zero group: any grid reproduces it exactly
    lo = -1.0f;
    hi = 1.0f;
  }
  g.scale = round_scale_to_storage((hi - lo) / float(maxq), spec.scale_storage);
  g.zero = std::clamp(int(std::nearbyint(-lo / g.scale)), spec.zero_min, maxq);
  return g;
}

void value_range(const float* w, int64_t n, int64_t stride, float& wmin, float& wmax) {
  wmin = w[0];
  wmax = w[0];
  for (int64_t i = 1; i < n; ++i) {
    const float v = w[i * stride];
    wmin = std::min(wmin, v);
    wmax = std::max(wmax, v);
  }
}

}  // namespace llmq
