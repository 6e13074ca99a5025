#include "calibration/moe_routing_collector.h"

#include <fmt/format.h>

#include "util/error.h"

namespace llmq {

std::vector<double> MoeRoutingStats::mean_weight() const {
  std::vector<double> m(counts.size(), 0.0);
  for (size_t e = 0; e < m.size(); ++e)
    if (counts[e] > 0) m[e] = weight_sum[e] / double(counts[e]);
  return m;
}

void MoeRoutingCollector::on_moe_routing(int layer, const int32_t* experts, const float* weights, int64_t T,
                                         int64_t k) {
  MoeRoutingStats& s = layers_[layer];
  if (s.counts.empty()) {
    s.counts.assign(size_t(n_experts_), 0);
    s.weight_sum.assign(size_t(n_experts_), 0.0);
  }
  s.top_k = k;
  for (int64_t i = 0; i < T * k; ++i) {
    const int32_t e = experts[i];
    if (e < 0 || e >= n_experts_) fail("MoE routing: layer {} chose expert {} of {}", layer, e, n_experts_);
    s.counts[size_t(e)] += 1;
    s.weight_sum[size_t(e)] += double(weights[i]);
  }
  s.tokens += T;
}

CollectorState MoeRoutingCollector::save_state() const {
  CollectorState st;
  for (const auto& [l, s] : layers_) {
    const std::string base = fmt::format("L{}", l);
    st[base + ".counts"] = std::vector<double>(s.counts.begin(), s.counts.end());
    st[base + ".weight_sum"] = s.weight_sum;
    st[base + ".tokens"] = {double(s.tokens), double(s.top_k)};
  }
  return st;
}

void MoeRoutingCollector::load_state(const CollectorState& state) {
  layers_.clear();
  for (const auto& [name, v] : state) {
    const auto dot = name.find('.');
    if (name.empty() || name[0] != 'L' || dot == std::string::npos) fail("MoE routing state: unexpected array '{}'", name);
    MoeRoutingStats& s = layers_[std::stoi(name.substr(1, dot - 1))];
    const std::string field = name.substr(dot + 1);
    if (field == "counts") {
      s.counts.clear();
      for (double c : v) s.counts.push_back(int64_t(c));
    } else if (field == "weight_sum") {
      s.weight_sum = v;
    } else if (field == "tokens" && v.size() == 2) {
      s.tokens = int64_t(v[0]);
      s.top_k = int64_t(v[1]);
    } else {
      fail("MoE routing state: unexpected array '{}'", name);
    }
  }
  for (const auto& [l, s] : layers_)
    if (int64_t(s.counts.size()) != n_experts_) fail("MoE routing state: layer {} has {} experts, model has {}", l, s.counts.size(), n_experts_);
}

std::unique_ptr<Collector> MoeRoutingCollector::empty_clone() const {
  return std::make_unique<MoeRoutingCollector>(n_experts_);
}

void MoeRoutingCollector::merge(const Collector& later) {
  for (const auto& [l, s] : same_collector<MoeRoutingCollector>(*this, later).layers_) {
    MoeRoutingStats& mine = layers_[l];
    if (mine.counts.empty()) mine.counts.assign(s.counts.size(), 0);
    if (mine.counts.size() != s.counts.size())
      fail("cannot merge MoE routing of layer {}: {} experts into {}", l, s.counts.size(), mine.counts.size());
    for (size_t e = 0; e < s.counts.size(); ++e) mine.counts[e] += s.counts[e];
    add_elementwise(mine.weight_sum, s.weight_sum, fmt::format("MoE routing weights of layer {}", l));
    mine.tokens += s.tokens;
    mine.top_k = s.top_k;
  }
}

}  // namespace llmq
