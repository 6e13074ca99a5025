#include "model/rope.h"

#include <cmath>
#include <numbers>

namespace llmq {

Rope::Rope(const ModelConfig& cfg) : head_dim_(cfg.head_dim) {
  const int64_t half = head_dim_ / 2;
  inv_freq_.resize(size_t(half));
  for (int64_t i = 0; i < half; ++i) {
    // HF computes this in fp32: 1 / theta^(2i/d)
    const float expo = float(2 * i) / float(head_dim_);
    inv_freq_[size_t(i)] = double(1.0f / std::pow(float(cfg.rope_theta), expo));
  }
  const RopeScaling& rs = cfg.rope_scaling;
  if (rs.type == "linear") {
    for (double& f : inv_freq_) f /= rs.factor;
  } else if (rs.type == "llama3") {
    // Long wavelengths are slowed by `factor`, short ones kept, a smooth ramp between.
    const double low_wavelen = double(rs.original_max_position) / rs.low_freq_factor;
    const double high_wavelen = double(rs.original_max_position) / rs.high_freq_factor;
    for (double& f : inv_freq_) {
      const double wavelen = 2.0 * std::numbers::pi / f;
      if (wavelen < high_wavelen) continue;
      if (wavelen > low_wavelen) {
        f /= rs.factor;
      } else {
        const double smooth = (double(rs.original_max_position) / wavelen - rs.low_freq_factor) /
                              (rs.high_freq_factor - rs.low_freq_factor);
        f = (1.0 - smooth) * f / rs.factor + smooth * f;
      }
    }
  }
}

void Rope::apply(float* x, int64_t T, int64_t n_heads, int64_t pos0) const { rotate(x, T, n_heads, pos0, 1.0f); }

void Rope::apply_inverse(float* x, int64_t T, int64_t n_heads, int64_t pos0) const {
  rotate(x, T, n_heads, pos0, -1.0f);
}

void Rope::rotate(float* x, int64_t T, int64_t n_heads, int64_t pos0, float sign) const {
  const int64_t half = head_dim_ / 2;
  const int64_t stride = n_heads * head_dim_;
#pragma omp parallel for schedule(static) if (T > 4)
  for (int64_t t = 0; t < T; ++t) {
    const float pos = float(pos0 + t);
    std::vector<float> c(static_cast<size_t>(half)), s(static_cast<size_t>(half));
    for (int64_t i = 0; i < half; ++i) {
      // HF: freqs = pos * inv_freq in fp32, then cos/sin in fp32
      const float ang = pos * float(inv_freq_[size_t(i)]);
      c[size_t(i)] = std::cos(ang);
      s[size_t(i)] = sign * std::sin(ang);  // sin(-a) = -sin(a): the same cosines, exactly
    }
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + t * stride + h * head_dim_;
      for (int64_t i = 0; i < half; ++i) {
        const float a = v[i], b = v[i + half];
        v[i] = a * c[size_t(i)] - b * s[size_t(i)];
        v[i + half] = b * c[size_t(i)] + a * s[size_t(i)];
      }
    }
  }
}

}  // namespace llmq
