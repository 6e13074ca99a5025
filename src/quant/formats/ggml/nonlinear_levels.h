#pragma once
// Scale search for "non-linear" formats (IQ4_NL, IQ4_XS): x ~ s * v[q] with
// v a fixed, sorted table of levels and q free per value.
//
// For a given scale every value simply takes its nearest level, so the
// weighted error is a function of the scale alone, piecewise quadratic with
// a break wherever some x_i / s crosses the midpoint between two levels. We
// walk all those breakpoints in order (as 1/s grows from 0, each value moves
// up or down the table one level at a time), keep the running sums
// Sxq = sum w x v[q] and Sqq = sum w v[q]^2 and score each assignment by its
// least-squares scale: error = Sxx - Sxq^2 / Sqq. That visits every
// assignment "nearest level at some scale" produces, so the best one found is
// the exact optimum over scales of that sign; both signs are tried, the
// table being lopsided.
//
// Private to the ggml format code.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

namespace llmq::ggml::iq {

class LevelTable {
 public:
  static constexpr int kMaxLevels = 16;

  LevelTable(const int8_t* values, int n) : n_(n) {
    for (int k = 0; k < n; ++k) v_[k] = float(values[k]);
    for (int k = 0; k + 1 < n; ++k) mid_[k] = 0.5f * (v_[k] + v_[k + 1]);
    zero_ = 0;
    for (int k = 1; k < n; ++k)
      if (std::fabs(v_[k]) < std::fabs(v_[zero_])) zero_ = k;
  }

  int size() const { return n_; }
  float value(int k) const { return v_[k]; }

  // Index of the level nearest to u (n must be 16: a four-step binary search).
  int nearest(float u) const {
    int i = 0;
    i += u > mid_[i + 7] ? 8 : 0;
    i += u > mid_[i + 3] ? 4 : 0;
    i += u > mid_[i + 1] ? 2 : 0;
    i += u > mid_[i] ? 1 : 0;
    return i;
  }

  // Weighted squared error of x ~ D * v[nearest(x / D)]; fills q when given.
  float error(const float* x, const float* w, int n, float D, uint8_t* q = nullptr) const {
    float err = 0;
    if (D == 0) {
      for (int i = 0; i < n; ++i) err += w[i] * x[i] * x[i];
      if (q) std::fill(q, q + n, uint8_t(zero_));
      return err;
    }
    const float inv = 1.f / D;
    for (int i = 0; i < n; ++i) {
      const int k = nearest(x[i] * inv);
      if (q) q[i] = uint8_t(k);
      const float e = x[i] - D * v_[k];
      err += w[i] * e * e;
    }
    return err;
  }

  // The least-squares optimal scale (of either sign) for n <= 32 values.
  // Returns 0 when every weighted value is 0.
  float best_scale(const float* x, const float* w, int n) const {
    float best_gain = 0, best = 0;
    for (int sign : {1, -1}) {
      float s, gain;
      scan(x, w, n, float(sign), s, gain);
      if (gain > best_gain) best_gain = gain, best = float(sign) * s;
    }
    return best;
  }

 private:
  // Walks the breakpoints for scales of the given sign (x is read as sign*x);
  // returns the best positive scale and its gain Sxq^2/Sqq.
  void scan(const float* x, const float* w, int n, float sign, float& best_s, float& best_gain) const {
    // An event is "at 1/s = t, value i moves one level up (or down)", packed
    // as t's bits (positive floats order like their bits) above i and the
    // direction, so that a plain integer sort orders them.
    uint64_t events[32 * kMaxLevels];
    int ne = 0;
    double sxq = 0, sqq = 0;
    const float v0 = v_[zero_];
    for (int i = 0; i < n; ++i) {
      const float xi = sign * x[i];
      sxq += double(w[i]) * xi * v0;
      sqq += double(w[i]) * v0 * v0;
      auto event = [&](float t, bool up) {
        uint32_t bits;
        std::memcpy(&bits, &t, 4);
        events[ne++] = uint64_t(bits) << 32 | uint32_t(i) << 1 | uint32_t(up);
      };
      if (xi > 0)
        for (int k = zero_; k + 1 < n_; ++k) event(mid_[k] / xi, true);
      else if (xi < 0)
        for (int k = zero_; k > 0; --k) event(mid_[k - 1] / xi, false);
    }
    std::sort(events, events + ne);
    best_s = 0, best_gain = 0;
    auto consider = [&] {
      if (sxq > 0 && sqq > 0 && sxq * sxq > double(best_gain) * sqq) {
        best_gain = float(sxq * sxq / sqq);
        best_s = float(sxq / sqq);
      }
    };
    consider();
    int level[32];
    std::fill(level, level + n, zero_);
    for (int e = 0; e < ne; ++e) {
      const int i = int((events[e] >> 1) & 0x7fffffff);
      const int step = events[e] & 1 ? 1 : -1;
      const float xi = sign * x[i];
      const float from = v_[level[i]], to = v_[level[i] + step];
      level[i] += step;
      sxq += double(w[i]) * xi * (to - from);
      sqq += double(w[i]) * (to * to - from * from);
      if (e + 1 == ne || (events[e + 1] >> 32) != (events[e] >> 32)) consider();  // after all moves at this scale
    }
  }

  int n_;
  int zero_;  // the level nearest to 0, where every value starts
  float v_[kMaxLevels];
  float mid_[kMaxLevels - 1];
};

}  // namespace llmq::ggml::iq
