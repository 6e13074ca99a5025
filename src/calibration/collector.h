#pragma once
// A collector accumulates statistics from the forward pass's hooks over the
// calibration windows (importance matrix, Gram matrices, activation maxima,
// routing counts, activation spikes). Quantization methods attach the
// collectors they need to one CalibrationPass.
//
// Contract, which makes a run reproducible and resumable:
//   - hooks arrive from a single thread, window after window in order, and a
//     collector adds each window's contribution in a fixed order (so results
//     do not depend on the thread count of its inner loops);
//   - save_state() returns every accumulated number as named float64 arrays
//     and load_state() restores them exactly, so a run resumed from a
//     checkpoint ends bit-identical to an uninterrupted one;
//   - windows are collected in fixed blocks (window_blocks.h), each into an
//     empty_clone(), and the blocks are merge()d in window order: the sums
//     then do not depend on how many processes shared the blocks.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "model/forward_hooks.h"
#include "util/error.h"

namespace llmq {

// Named float64 arrays; integer counts are stored exactly (< 2^53).
using CollectorState = std::map<std::string, std::vector<double>>;

class Collector : public ForwardHooks {
 public:
  // Short identifier, used to prefix the collector's arrays in checkpoints.
  virtual std::string name() const = 0;
  // Called before each calibration window.
  virtual void begin_window(int64_t index, int64_t tokens) {}
  virtual CollectorState save_state() const = 0;
  // Replaces the accumulated statistics; throws llmq::Error on arrays that
  // do not fit this collector (a checkpoint from another configuration).
  virtual void load_state(const CollectorState& state) = 0;
  // An empty collector of the same configuration.
  virtual std::unique_ptr<Collector> empty_clone() const = 0;
  // Adds the statistics of `later` (a collector of the same type, fed the
  // windows that follow this one's): sums add, maxima keep the larger, a
  // record moves only to a strictly larger peak, exactly as one collector
  // fed every window would have.
  virtual void merge(const Collector& later) = 0;
};

// `later` as a T, or llmq::Error naming both collectors.
template <typename T>
const T& same_collector(const Collector& self, const Collector& later) {
  const T* t = dynamic_cast<const T*>(&later);
  if (!t) throw Error("cannot merge collector '" + later.name() + "' into '" + self.name() + "'");
  return *t;
}

// Identifies one linear input: the slot of a layer, and the expert inside
// an MoE layer (-1 for dense linears).
struct LinearKey {
  int layer = 0;
  LinearSlot slot = LinearSlot::QKV;
  int expert = -1;
  auto operator<=>(const LinearKey&) const = default;
};

// into += later, element by element (into may be empty: it becomes a copy);
// throws llmq::Error naming `what` when the lengths differ.
void add_elementwise(std::vector<double>& into, const std::vector<double>& later, const std::string& what);

// "L3.qkv", "L3.down.e12": stable names for state arrays and messages.
std::string linear_key_name(const LinearKey& k);
// Inverse of linear_key_name; throws llmq::Error on a malformed name.
LinearKey parse_linear_key(const std::string& s);

}  // namespace llmq
