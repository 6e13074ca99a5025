#include "calibration/gram_collector.h"

#include <cmath>

#include <cblas.h>

#include "util/error.h"

namespace llmq {

std::vector<double> GramStats::matrix() const {
  std::vector<double> m(upper);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j) m[size_t(i * n + j)] = m[size_t(j * n + i)];
  return m;
}

std::vector<double> GramStats::take_matrix() && {
  std::vector<double> m = std::move(upper);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j) m[size_t(i * n + j)] = m[size_t(j * n + i)];
  return m;
}

std::optional<GramStats> GramCollector::take(const LinearKey& k) {
  auto it = stats_.find(k);
  if (it == stats_.end()) return std::nullopt;
  GramStats g = std::move(it->second);
  stats_.erase(it);
  return g;
}

void GramCollector::on_linear_input(int layer, LinearSlot slot, int expert, float* X, int64_t T, int64_t in) {
  if (!slots_.empty() && !slots_.count(slot)) return;
  if (!layers_.empty() && !layers_.count(layer)) return;
  const LinearKey key{layer, slot, expert};
  GramStats& g = stats_[key];
  if (g.n == 0) {
    g.n = in;
    g.upper.assign(size_t(in * in), 0.0);
  }
  if (g.n != in) fail("Gram matrix: input of {} changed width ({} vs {})", linear_key_name(key), g.n, in);
  xd_.resize(size_t(T * in));
#pragma omp parallel for schedule(static) if (T * in > 65536)
  for (int64_t i = 0; i < T * in; ++i) xd_[size_t(i)] = double(X[i]);
  // upper(G) += X^T X
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, int(in), int(T), 1.0, xd_.data(), int(in), 1.0, g.upper.data(),
              int(in));
  g.tokens += T;
}

const GramStats* GramCollector::find(const LinearKey& k) const {
  auto it = stats_.find(k);
  return it == stats_.end() ? nullptr : &it->second;
}

std::vector<double> pack_upper(const std::vector<double>& upper, int64_t n) {
  std::vector<double> p;
  p.reserve(size_t(n * (n + 1) / 2));
  for (int64_t i = 0; i < n; ++i) p.insert(p.end(), upper.begin() + i * n + i, upper.begin() + (i + 1) * n);
  return p;
}

std::vector<double> unpack_upper(const std::vector<double>& packed, int64_t n) {
  if (int64_t(packed.size()) != n * (n + 1) / 2) fail("Gram matrix: {} packed values for width {}", packed.size(), n);
  std::vector<double> upper(size_t(n * n), 0.0);
  size_t at = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) upper[size_t(i * n + j)] = packed[at++];
  return upper;
}

void GramCollector::put(const LinearKey& k, GramStats g) { stats_[k] = std::move(g); }

CollectorState GramCollector::save_state() const {
  CollectorState st;
  for (const auto& [k, g] : stats_) {
    const std::string base = linear_key_name(k);
    st[base + ".packed_upper"] = pack_upper(g.upper, g.n);  // half the bytes of the square
    st[base + ".tokens"] = {double(g.tokens)};
  }
  return st;
}

void GramCollector::load_state(const CollectorState& state) {
  stats_.clear();
  for (const auto& [name, values] : state) {
    auto dot = name.rfind('.');
    const std::string field = name.substr(dot + 1);
    GramStats& g = stats_[parse_linear_key(name.substr(0, dot))];
    if (field == "packed_upper") {
      g.n = int64_t(std::llround((std::sqrt(8.0 * double(values.size()) + 1.0) - 1.0) / 2.0));
      if (g.n * (g.n + 1) / 2 != int64_t(values.size())) fail("Gram matrix state: '{}' is not a triangle", name);
      g.upper = unpack_upper(values, g.n);
    } else if (field == "tokens" && values.size() == 1) {
      g.tokens = int64_t(values[0]);
    } else {
      fail("Gram matrix state: unexpected array '{}'", name);
    }
  }
}

std::unique_ptr<Collector> GramCollector::empty_clone() const { return std::make_unique<GramCollector>(slots_, layers_); }

void GramCollector::merge(const Collector& later) {
  for (const auto& [k, g] : same_collector<GramCollector>(*this, later).stats_) {
    GramStats& mine = stats_[k];
    if (mine.upper.empty()) mine.n = g.n;
    add_elementwise(mine.upper, g.upper, "Gram matrix of " + linear_key_name(k));
    mine.tokens += g.tokens;
  }
}

}  // namespace llmq
