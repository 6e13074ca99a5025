#include "export/gguf/llama3_rope_factors.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "util/error.h"

namespace llmq {

namespace {
// Wavelength of each rotary pair, from the fp32 inverse frequencies HF uses.
std::vector<double> wavelengths(double rope_theta, int64_t head_dim) {
  std::vector<double> w(size_t(head_dim / 2));
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    const float inv_freq = 1.0f / std::pow(float(rope_theta), float(2 * i) / float(head_dim));
    w[size_t(i)] = 2.0 * std::numbers::pi / double(inv_freq);
  }
  return w;
}
}  // namespace

std::vector<float> llama3_rope_freq_factors(const ModelConfig& cfg) {
  const RopeScaling& rs = cfg.rope_scaling;
  const double L = double(rs.original_max_position);
  const double low_wavelen = L / rs.low_freq_factor, high_wavelen = L / rs.high_freq_factor;
  std::vector<float> out;
  for (double wavelen : wavelengths(cfg.rope_theta, cfg.head_dim)) {
    if (wavelen < high_wavelen) {
      out.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      out.push_back(float(rs.factor));
    } else {
      const double smooth = (L / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
      out.push_back(float(1.0 / ((1.0 - smooth) / rs.factor + smooth)));
    }
  }
  return out;
}

RopeScaling llama3_scaling_from_factors(const std::vector<float>& factors, double rope_theta, int64_t head_dim,
                                        int64_t original_max_position) {
  const std::vector<double> wl = wavelengths(rope_theta, head_dim);
  if (factors.size() != wl.size())
    fail("rope_freqs has {} values, expected head_dim/2 = {}", factors.size(), wl.size());
  RopeScaling rs;
  rs.type = "llama3";
  rs.original_max_position = original_max_position;
  rs.factor = *std::max_element(factors.begin(), factors.end());
  if (!(rs.factor > 1.0)) {  // all ones: no scaling at all
    rs.type = "default";
    rs.factor = 1.0;
    return rs;
  }
  const double L = double(original_max_position);
  const double tol = 1e-6;
  // On the ramp, 1/f = (1 - s)/factor + s with s = (L/wavelen - lf)/(hf - lf):
  // s is linear in 1/wavelen, s = a/wavelen + b with a = L/(hf-lf), b = -lf/(hf-lf).
  std::vector<std::pair<double, double>> ramp;  // (1/wavelen, s)
  double last_one = 0, first_full = 1e300;
  for (size_t i = 0; i < wl.size(); ++i) {
    const double f = factors[i];
    if (std::abs(f - 1.0) <= tol) {
      last_one = std::max(last_one, wl[i]);
    } else if (std::abs(f - rs.factor) <= tol * rs.factor) {
      first_full = std::min(first_full, wl[i]);
    } else {
      const double s = (1.0 / f - 1.0 / rs.factor) / (1.0 - 1.0 / rs.factor);
      ramp.emplace_back(1.0 / wl[i], s);
    }
  }
  if (ramp.size() >= 2) {
    double mx = 0, my = 0;
    for (auto [x, y] : ramp) mx += x, my += y;
    mx /= double(ramp.size());
    my /= double(ramp.size());
    double sxy = 0, sxx = 0;
    for (auto [x, y] : ramp) sxy += (x - mx) * (y - my), sxx += (x - mx) * (x - mx);
    const double a = sxy / sxx, b = my - a * mx;
    rs.low_freq_factor = -b * L / a;
    rs.high_freq_factor = rs.low_freq_factor + L / a;
    return rs;
  }
  // No ramp to fit: put the ramp's ends between the wavelengths that are
  // scaled and those that are not (any such choice gives the same factors).
  const double high_wavelen = last_one > 0 ? last_one * 1.0001 : wl.front() * 0.5;
  const double low_wavelen = first_full < 1e300 ? first_full * 0.9999 : wl.back() * 2.0;
  rs.high_freq_factor = L / high_wavelen;
  rs.low_freq_factor = L / std::max(low_wavelen, high_wavelen * 1.0001);
  return rs;
}

}  // namespace llmq
