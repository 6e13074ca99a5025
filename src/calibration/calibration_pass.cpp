#include "calibration/calibration_pass.h"

#include <fmt/format.h>

#include "util/error.h"

namespace llmq {

namespace {

// Fans each hook out to every collector, in the order they were added.
class HookFanOut : public ForwardHooks {
 public:
  explicit HookFanOut(const std::vector<Collector*>& c) : c_(c) {}
  void on_linear_input(int layer, LinearSlot slot, int expert, float* X, int64_t T, int64_t in) override {
    for (Collector* c : c_) c->on_linear_input(layer, slot, expert, X, T, in);
  }
  void on_linear_output(int layer, LinearSlot slot, int which, int expert, const float* Y, int64_t T,
                        int64_t out) override {
    for (Collector* c : c_) c->on_linear_output(layer, slot, which, expert, Y, T, out);
  }
  void on_moe_routing(int layer, const int32_t* experts, const float* weights, int64_t T, int64_t k) override {
    for (Collector* c : c_) c->on_moe_routing(layer, experts, weights, T, k);
  }
  void on_kv_cache(int layer, const float* K, const float* V, int64_t T, int64_t kv_dim) override {
    for (Collector* c : c_) c->on_kv_cache(layer, K, V, T, kv_dim);
  }
  void on_layer_output(int layer, const float* X, int64_t T, int64_t hidden) override {
    for (Collector* c : c_) c->on_layer_output(layer, X, T, hidden);
  }

 private:
  const std::vector<Collector*>& c_;
};

}  // namespace

void CalibrationPass::run_window(const std::vector<int32_t>& tokens, int64_t index) {
  const int64_t T = int64_t(tokens.size());
  if (T == 0) fail("calibration window {} is empty", index);
  for (Collector* c : collectors_) c->begin_window(index, T);
  HookFanOut hooks(collectors_);
  KvCache cache = model_.make_cache(T);
  std::vector<float> X;
  model_.embed(tokens.data(), T, X);
  for (int l = 0; l < model_.config().n_layers; ++l) model_.run_layer(l, X.data(), T, cache, &hooks);
}

void CalibrationPass::run(const std::vector<std::vector<int32_t>>& windows, const CalibrationPassOptions& opt) {
  for (int64_t i = std::max<int64_t>(0, opt.first_window); i < int64_t(windows.size()); ++i) {
    run_window(windows[size_t(i)], i);
    if (opt.on_window_done) opt.on_window_done(i, int64_t(windows[size_t(i)].size()));
  }
}

void add_elementwise(std::vector<double>& into, const std::vector<double>& later, const std::string& what) {
  if (into.empty()) into.assign(later.size(), 0.0);  // 0 + x, not a copy: the same bits as one running sum from zero
  if (into.size() != later.size()) fail("cannot merge {}: {} values into {}", what, later.size(), into.size());
  for (size_t i = 0; i < into.size(); ++i) into[i] += later[i];
}

std::string linear_key_name(const LinearKey& k) {
  std::string s = fmt::format("L{}.{}", k.layer, linear_slot_name(k.slot));
  if (k.expert >= 0) s += fmt::format(".e{}", k.expert);
  return s;
}

LinearKey parse_linear_key(const std::string& s) {
  LinearKey k;
  const size_t dot = s.find('.');
  if (s.size() < 4 || s[0] != 'L' || dot == std::string::npos) fail("malformed linear key '{}'", s);
  try {
    k.layer = std::stoi(s.substr(1, dot - 1));
    std::string rest = s.substr(dot + 1);
    const size_t e = rest.find(".e");
    if (e != std::string::npos) {
      k.expert = std::stoi(rest.substr(e + 2));
      rest = rest.substr(0, e);
    }
    bool found = false;
    for (LinearSlot slot : {LinearSlot::QKV, LinearSlot::O, LinearSlot::GateUp, LinearSlot::Down})
      if (rest == linear_slot_name(slot)) {
        k.slot = slot;
        found = true;
      }
    if (!found) fail("malformed linear key '{}'", s);
  } catch (const std::logic_error&) {
    fail("malformed linear key '{}'", s);
  }
  return k;
}

}  // namespace llmq
