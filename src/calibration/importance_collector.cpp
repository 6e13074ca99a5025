#include "calibration/importance_collector.h"

#include <algorithm>

#include <fmt/format.h>

#include "util/error.h"

namespace llmq {

std::vector<float> ImportanceStats::mean_sq() const {
  std::vector<float> m(sum_sq.size(), 1.0f);
  if (tokens > 0)
    for (size_t j = 0; j < m.size(); ++j) m[j] = float(sum_sq[j] / double(tokens));
  return m;
}

void accumulate_sum_of_squares(const float* X, int64_t T, int64_t n, double* acc) {
  // Channels are split among threads; each channel sums its tokens in order.
  constexpr int64_t kBlock = 64;
#pragma omp parallel for schedule(static) if (T * n > 32768)
  for (int64_t j0 = 0; j0 < n; j0 += kBlock) {
    const int64_t j1 = std::min(n, j0 + kBlock);
    double local[kBlock];
    for (int64_t j = j0; j < j1; ++j) local[j - j0] = acc[j];
    for (int64_t t = 0; t < T; ++t) {
      const float* x = X + t * n;
      for (int64_t j = j0; j < j1; ++j) local[j - j0] += double(x[j]) * double(x[j]);
    }
    for (int64_t j = j0; j < j1; ++j) acc[j] = local[j - j0];
  }
}

void ImportanceCollector::on_linear_input(int layer, LinearSlot slot, int expert, float* X, int64_t T, int64_t in) {
  ImportanceStats& s = stats_[{layer, slot, expert}];
  if (s.sum_sq.empty()) s.sum_sq.assign(size_t(in), 0.0);
  if (int64_t(s.sum_sq.size()) != in)
    fail("importance matrix: input of {} changed width ({} vs {})", linear_key_name({layer, slot, expert}),
         s.sum_sq.size(), in);
  accumulate_sum_of_squares(X, T, in, s.sum_sq.data());
  s.tokens += T;
}

const ImportanceStats* ImportanceCollector::find(const LinearKey& k) const {
  auto it = stats_.find(k);
  return it == stats_.end() ? nullptr : &it->second;
}

CollectorState ImportanceCollector::save_state() const {
  CollectorState st;
  for (const auto& [k, s] : stats_) {
    const std::string base = linear_key_name(k);
    st[base + ".sum_sq"] = s.sum_sq;
    st[base + ".tokens"] = {double(s.tokens)};
  }
  return st;
}

void ImportanceCollector::load_state(const CollectorState& state) {
  stats_.clear();
  for (const auto& [name, values] : state) {
    auto dot = name.rfind('.');
    const std::string key = name.substr(0, dot), field = name.substr(dot + 1);
    ImportanceStats& s = stats_[parse_linear_key(key)];
    if (field == "sum_sq") s.sum_sq = values;
    else if (field == "tokens" && values.size() == 1) s.tokens = int64_t(values[0]);
    else fail("importance matrix state: unexpected array '{}'", name);
  }
}

std::unique_ptr<Collector> ImportanceCollector::empty_clone() const { return std::make_unique<ImportanceCollector>(); }

void ImportanceCollector::merge(const Collector& later) {
  for (const auto& [k, s] : same_collector<ImportanceCollector>(*this, later).stats_) {
    ImportanceStats& mine = stats_[k];
    add_elementwise(mine.sum_sq, s.sum_sq, "importance of " + linear_key_name(k));
    mine.tokens += s.tokens;
  }
}

}  // namespace llmq
