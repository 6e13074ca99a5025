#include "calibration/imatrix_builder.h"

#include <algorithm>

#include "util/error.h"

namespace llmq {

LinearSlot linear_slot_of(TensorRole role) {
  switch (role) {
    case TensorRole::AttnQ: case TensorRole::AttnK: case TensorRole::AttnV: return LinearSlot::QKV;
    case TensorRole::AttnO: return LinearSlot::O;
    case TensorRole::FfnGate: case TensorRole::FfnUp: return LinearSlot::GateUp;
    case TensorRole::FfnDown: return LinearSlot::Down;
    default: fail("tensor role {} is not a linear weight", int(role));
  }
}

ImatrixData build_imatrix(const ImportanceCollector& stats, const ModelConfig& cfg, const GgufNamer& gguf_name,
                          std::vector<std::string> datasets, int32_t chunk_count, int32_t chunk_size) {
  ImatrixData d;
  d.datasets = std::move(datasets);
  d.chunk_count = chunk_count;
  d.chunk_size = chunk_size;

  ModelWeights names_only;
  names_only.cfg = cfg;
  for (const NamedTensor& t : named_tensors(names_only)) {
    if (!is_linear_weight(t.role)) continue;
    const int64_t in = t.shape.back();
    const ImportanceStats* s = stats.find({t.layer, linear_slot_of(t.role), t.expert});
    ImatrixEntry& e = d.entries[gguf_name(t)];
    if (t.expert < 0) {
      e.sums.assign(size_t(in), 0.0f);
      e.counts = {0};
    } else if (e.sums.empty()) {  // first expert of a stacked tensor sizes it for all
      e.sums.assign(size_t(in * cfg.n_experts), 0.0f);
      e.counts.assign(size_t(cfg.n_experts), 0);
    }
    if (!s) continue;  // never reached (an expert no token chose): zero count
    if (int64_t(s->sum_sq.size()) != in)
      fail("importance statistics of {} have {} channels, the weight has {}", t.name, s->sum_sq.size(), in);
    const size_t m = size_t(std::max(t.expert, 0));
    for (int64_t j = 0; j < in; ++j) e.sums[m * size_t(in) + size_t(j)] = float(s->sum_sq[size_t(j)]);
    e.counts[m] = s->tokens;
  }
  return d;
}

}  // namespace llmq
