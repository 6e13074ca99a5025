#pragma once
// Input Gram matrices X^T X in float64 per linear input (layer, slot[, expert]),
// the second-order statistic of GPTQ-style methods (H = 2 X^T X / tokens).
// q/k/v share one matrix, as do gate/up, because they read the same input.
// A matrix costs in^2 * 8 bytes, so pick the slots (and layers) needed.
//
// The rank-T update goes through BLAS dsyrk; its rounding depends on BLAS's
// internal blocking, so results are reproducible for a fixed thread count.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "calibration/collector.h"

namespace llmq {

struct GramStats {
  int64_t n = 0;              // input width
  std::vector<double> upper;  // n x n, row-major, upper triangle filled
  int64_t tokens = 0;
  // The full symmetric matrix, row-major n x n.
  std::vector<double> matrix() const;
  // The same, built in `upper`'s storage and moved out (no second n x n copy: 1 GB for an 11008-wide input).
  std::vector<double> take_matrix() &&;
};

// The upper triangle of a row-major n x n matrix, row by row (n(n+1)/2
// values), and back (zeros below the diagonal): how Gram matrices travel.
std::vector<double> pack_upper(const std::vector<double>& upper, int64_t n);
std::vector<double> unpack_upper(const std::vector<double>& packed, int64_t n);

class GramCollector : public Collector {
 public:
  // Collects every slot when `slots` is empty; every layer when `layers` is empty.
  explicit GramCollector(std::set<LinearSlot> slots = {}, std::set<int> layers = {})
      : slots_(std::move(slots)), layers_(std::move(layers)) {}

  std::string name() const override { return "gram"; }
  void on_linear_input(int layer, LinearSlot slot, int expert, float* X, int64_t T, int64_t in) override;
  CollectorState save_state() const override;
  void load_state(const CollectorState& state) override;
  std::unique_ptr<Collector> empty_clone() const override;
  void merge(const Collector& later) override;

  const GramStats* find(const LinearKey& k) const;
  // Removes the statistics of `k` and returns them (nullopt when there are none).
  std::optional<GramStats> take(const LinearKey& k);
  const std::map<LinearKey, GramStats>& stats() const { return stats_; }
  void clear() { stats_.clear(); }
  // Sets the statistics of `k` (ones collected elsewhere: another process).
  void put(const LinearKey& k, GramStats g);

 private:
  std::set<LinearSlot> slots_;
  std::set<int> layers_;
  std::map<LinearKey, GramStats> stats_;
  std::vector<double> xd_;  // the current input in float64
};

}  // namespace llmq
