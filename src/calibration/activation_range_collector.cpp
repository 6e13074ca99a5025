#include "calibration/activation_range_collector.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace llmq {

std::vector<float> ActivationRange::mean_abs() const {
  std::vector<float> m(sum_abs.size(), 0.0f);
  if (tokens > 0)
    for (size_t j = 0; j < m.size(); ++j) m[j] = float(sum_abs[j] / double(tokens));
  return m;
}

void ActivationRangeCollector::on_linear_input(int layer, LinearSlot slot, int expert, float* X, int64_t T,
                                               int64_t in) {
  const LinearKey key{layer, slot, expert};
  ActivationRange& r = stats_[key];
  if (r.max_abs.empty()) {
    r.max_abs.assign(size_t(in), 0.0f);
    r.sum_abs.assign(size_t(in), 0.0);
  }
  if (int64_t(r.max_abs.size()) != in)
    fail("activation ranges: input of {} changed width ({} vs {})", linear_key_name(key), r.max_abs.size(), in);
  // Channel blocks per thread, tokens in order within a channel: deterministic sums.
  constexpr int64_t kBlock = 64;
#pragma omp parallel for schedule(static) if (T * in > 32768)
  for (int64_t j0 = 0; j0 < in; j0 += kBlock) {
    const int64_t j1 = std::min(in, j0 + kBlock);
    for (int64_t t = 0; t < T; ++t) {
      const float* x = X + t * in;
      for (int64_t j = j0; j < j1; ++j) {
        const float a = std::fabs(x[j]);
        r.max_abs[size_t(j)] = std::max(r.max_abs[size_t(j)], a);
        r.sum_abs[size_t(j)] += double(a);
      }
    }
  }
  r.tokens += T;
}

const ActivationRange* ActivationRangeCollector::find(const LinearKey& k) const {
  auto it = stats_.find(k);
  return it == stats_.end() ? nullptr : &it->second;
}

CollectorState ActivationRangeCollector::save_state() const {
  CollectorState st;
  for (const auto& [k, r] : stats_) {
    const std::string base = linear_key_name(k);
    st[base + ".max_abs"] = std::vector<double>(r.max_abs.begin(), r.max_abs.end());
    st[base + ".sum_abs"] = r.sum_abs;
    st[base + ".tokens"] = {double(r.tokens)};
  }
  return st;
}

void ActivationRangeCollector::load_state(const CollectorState& state) {
  stats_.clear();
  for (const auto& [name, values] : state) {
    auto dot = name.rfind('.');
    const std::string field = name.substr(dot + 1);
    ActivationRange& r = stats_[parse_linear_key(name.substr(0, dot))];
    if (field == "max_abs") r.max_abs.assign(values.begin(), values.end());
    else if (field == "sum_abs") r.sum_abs = values;
    else if (field == "tokens" && values.size() == 1) r.tokens = int64_t(values[0]);
    else fail("activation range state: unexpected array '{}'", name);
  }
}

std::unique_ptr<Collector> ActivationRangeCollector::empty_clone() const {
  return std::make_unique<ActivationRangeCollector>();
}

void ActivationRangeCollector::merge(const Collector& later) {
  for (const auto& [k, r] : same_collector<ActivationRangeCollector>(*this, later).stats_) {
    ActivationRange& mine = stats_[k];
    if (mine.max_abs.empty()) mine.max_abs.assign(r.max_abs.size(), 0.0f);
    if (mine.max_abs.size() != r.max_abs.size())
      fail("cannot merge activation ranges of {}: {} channels into {}", linear_key_name(k), r.max_abs.size(),
           mine.max_abs.size());
    for (size_t j = 0; j < r.max_abs.size(); ++j) mine.max_abs[j] = std::max(mine.max_abs[j], r.max_abs[j]);
    add_elementwise(mine.sum_abs, r.sum_abs, "activation ranges of " + linear_key_name(k));
    mine.tokens += r.tokens;
  }
}

}  // namespace llmq
