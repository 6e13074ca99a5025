#include "calibration/super_weight_collector.h"

#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "util/error.h"

namespace llmq {

// Largest |v| of a row and its index (first one on ties).
static std::pair<float, int64_t> row_abs_max(const float* v, int64_t n) {
  float best = -1.0f;
  int64_t arg = -1;
  for (int64_t j = 0; j < n; ++j) {
    const float a = std::fabs(v[j]);
    if (a > best) {
      best = a;
      arg = j;
    }
  }
  return {best, arg};
}

void SuperWeightCollector::on_moe_routing(int layer, const int32_t* experts, const float*, int64_t T, int64_t k) {
  // Rebuild the gather order of Transformer::moe_mlp: tokens in order, per expert.
  for (auto& r : expert_rows_) r.clear();
  for (int64_t t = 0; t < T; ++t)
    for (int64_t j = 0; j < k; ++j) {
      const int32_t e = experts[t * k + j];
      if (e < 0) continue;
      if (size_t(e) >= expert_rows_.size()) expert_rows_.resize(size_t(e) + 1);
      expert_rows_[size_t(e)].push_back(t);
    }
}

void SuperWeightCollector::on_linear_input(int layer, LinearSlot slot, int expert, float* X, int64_t T, int64_t in) {
  if (slot != LinearSlot::Down) return;
  token_max_in_.resize(size_t(T));
  token_argmax_in_.resize(size_t(T));
#pragma omp parallel for schedule(static) if (T * in > 65536)
  for (int64_t t = 0; t < T; ++t) {
    auto [m, j] = row_abs_max(X + t * in, in);
    token_max_in_[size_t(t)] = m;
    token_argmax_in_[size_t(t)] = j;
  }
  DownProjSpike& s = spikes_[{layer, expert}];
  for (int64_t t = 0; t < T; ++t)
    if (token_max_in_[size_t(t)] > s.max_in) {
      s.max_in = token_max_in_[size_t(t)];
      s.max_in_col = token_argmax_in_[size_t(t)];
    }
}

void SuperWeightCollector::on_linear_output(int layer, LinearSlot slot, int which, int expert, const float* Y,
                                            int64_t T, int64_t out) {
  if (slot != LinearSlot::Down) return;
  if (int64_t(token_max_in_.size()) != T) fail("down_proj spikes: output of {} rows after an input of {}", T, token_max_in_.size());
  std::vector<float> peak(static_cast<size_t>(T));
  std::vector<int64_t> arg(static_cast<size_t>(T));
#pragma omp parallel for schedule(static) if (T * out > 65536)
  for (int64_t t = 0; t < T; ++t) {
    auto [m, j] = row_abs_max(Y + t * out, out);
    peak[size_t(t)] = m;
    arg[size_t(t)] = j;
  }
  DownProjSpike& s = spikes_[{layer, expert}];
  for (int64_t t = 0; t < T; ++t) {
    if (peak[size_t(t)] <= s.max_out) continue;
    s.max_out = peak[size_t(t)];
    s.row = arg[size_t(t)];
    s.col = token_argmax_in_[size_t(t)];
    s.in_at_peak = token_max_in_[size_t(t)];
    s.window = window_;
    const bool gathered = expert >= 0 && size_t(expert) < expert_rows_.size() &&
                          int64_t(expert_rows_[size_t(expert)].size()) == T;
    s.position = gathered ? expert_rows_[size_t(expert)][size_t(t)] : t;
  }
}

CollectorState SuperWeightCollector::save_state() const {
  CollectorState st;
  for (const auto& [key, s] : spikes_) {
    const std::string name = fmt::format("L{}.e{}", key.first, key.second);
    st[name] = {double(s.max_out), double(s.row),   double(s.col),    double(s.in_at_peak),
                double(s.max_in),  double(s.max_in_col), double(s.window), double(s.position)};
  }
  return st;
}

void SuperWeightCollector::load_state(const CollectorState& state) {
  spikes_.clear();
  for (const auto& [name, v] : state) {
    int layer = 0, expert = 0;
    if (std::sscanf(name.c_str(), "L%d.e%d", &layer, &expert) != 2 || v.size() != 8)
      fail("down_proj spike state: unexpected array '{}'", name);
    DownProjSpike& s = spikes_[{layer, expert}];
    s.max_out = float(v[0]);
    s.row = int64_t(v[1]);
    s.col = int64_t(v[2]);
    s.in_at_peak = float(v[3]);
    s.max_in = float(v[4]);
    s.max_in_col = int64_t(v[5]);
    s.window = int64_t(v[6]);
    s.position = int64_t(v[7]);
  }
}

std::unique_ptr<Collector> SuperWeightCollector::empty_clone() const { return std::make_unique<SuperWeightCollector>(); }

void SuperWeightCollector::merge(const Collector& later) {
  // The same strict comparisons as the hooks: a later peak replaces an earlier one only when larger.
  for (const auto& [key, s] : same_collector<SuperWeightCollector>(*this, later).spikes_) {
    DownProjSpike& mine = spikes_[key];
    if (s.max_in > mine.max_in) {
      mine.max_in = s.max_in;
      mine.max_in_col = s.max_in_col;
    }
    if (s.max_out > mine.max_out) {
      mine.max_out = s.max_out;
      mine.row = s.row;
      mine.col = s.col;
      mine.in_at_peak = s.in_at_peak;
      mine.window = s.window;
      mine.position = s.position;
    }
  }
}

}  // namespace llmq
