#include "calibration/kv_range_collector.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace llmq {

namespace {

float max_abs_of(const float* x, int64_t n) {
  float m = 0.0f;
#pragma omp parallel for reduction(max : m) schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(x[i]));
  return m;
}

}  // namespace

void KvRangeCollector::on_kv_cache(int layer, const float* K, const float* V, int64_t T, int64_t kv_dim) {
  if (layer < 0) fail("KV range: negative layer {}", layer);
  if (size_t(layer) >= k_max_.size()) {
    k_max_.resize(size_t(layer) + 1, 0.0f);
    v_max_.resize(size_t(layer) + 1, 0.0f);
  }
  k_max_[size_t(layer)] = std::max(k_max_[size_t(layer)], max_abs_of(K, T * kv_dim));
  v_max_[size_t(layer)] = std::max(v_max_[size_t(layer)], max_abs_of(V, T * kv_dim));
}

CollectorState KvRangeCollector::save_state() const {
  return {{"k_max", std::vector<double>(k_max_.begin(), k_max_.end())},
          {"v_max", std::vector<double>(v_max_.begin(), v_max_.end())}};
}

void KvRangeCollector::load_state(const CollectorState& state) {
  const auto k = state.find("k_max"), v = state.find("v_max");
  if (k == state.end() || v == state.end() || k->second.size() != v->second.size() || state.size() != 2)
    fail("KV range state: expected arrays k_max and v_max of one length");
  k_max_.assign(k->second.begin(), k->second.end());
  v_max_.assign(v->second.begin(), v->second.end());
}

std::unique_ptr<Collector> KvRangeCollector::empty_clone() const { return std::make_unique<KvRangeCollector>(); }

void KvRangeCollector::merge(const Collector& later) {
  const KvRangeCollector& o = same_collector<KvRangeCollector>(*this, later);
  if (o.k_max_.size() > k_max_.size()) {
    k_max_.resize(o.k_max_.size(), 0.0f);
    v_max_.resize(o.v_max_.size(), 0.0f);
  }
  for (size_t l = 0; l < o.k_max_.size(); ++l) {
    k_max_[l] = std::max(k_max_[l], o.k_max_[l]);
    v_max_[l] = std::max(v_max_[l], o.v_max_[l]);
  }
}

}  // namespace llmq
