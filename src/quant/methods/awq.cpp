#include "quant/methods/awq.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "quant/formats/intq/group_grid.h"
#include "util/error.h"

namespace llmq {

std::vector<float> awq_scales_for_alpha(const std::vector<float>& x_mean, double alpha) {
  std::vector<float> s(x_mean.size());
  float lo = std::numeric_limits<float>::max(), hi = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    s[i] = float(std::pow(std::max(double(x_mean[i]), 1e-4), alpha));
    lo = std::min(lo, s[i]);
    hi = std::max(hi, s[i]);
  }
  const float norm = std::sqrt(hi * lo);
  if (norm > 0)
    for (float& v : s) v /= norm;
  return s;
}

AwqSearchResult awq_search_scales(const std::vector<float>& x_mean, int grid,
                                  const std::function<double(const std::vector<float>&)>& loss) {
  if (grid < 1) fail("AWQ grid must have at least one point");
  AwqSearchResult best;
  best.loss = std::numeric_limits<double>::infinity();
  for (int k = 0; k < grid; ++k) {
    const double alpha = double(k) / grid;
    std::vector<float> s = awq_scales_for_alpha(x_mean, alpha);
    const double l = loss(s);
    if (k == 0) best.loss_alpha0 = l;
    if (l < best.loss) {
      best.loss = l;
      best.alpha = alpha;
      best.scales = std::move(s);
    }
  }
  return best;
}

std::vector<float> awq_search_clip(const Tensor& w, const IntQuantSpec& spec, const std::vector<double>& gram,
                                   const AwqOptions& opt) {
  const int64_t rows = w.rows(), cols = w.cols();
  spec.validate(cols);
  if (int64_t(gram.size()) != cols * cols) fail("AWQ clip search: Gram matrix does not match width {}", cols);
  const int64_t gl = spec.group_len(cols), G = spec.n_groups(cols);
  const int maxq = spec.maxq();
  std::vector<float> best(size_t(rows * G), 1.0f);
  const int steps = std::max(1, opt.clip_grid);
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> d(static_cast<size_t>(gl));
    for (int64_t g = 0; g < G; ++g) {
      const float* wg = w.row(r) + g * gl;
      float lo, hi;
      value_range(wg, gl, 1, lo, hi);
      double best_err = std::numeric_limits<double>::infinity();
      for (int k = 0; k < steps; ++k) {
        const float ratio = 1.0f - float(k) * (1.0f - opt.clip_min_ratio) / float(steps);
        const GroupGrid grid = fit_group_grid(lo, hi, spec, ratio);
        for (int64_t c = 0; c < gl; ++c) d[size_t(c)] = double(wg[c]) - double(grid.dequantize(grid.quantize(wg[c], maxq)));
        // d^T G_gg d over the group's diagonal block of the Gram matrix
        double err = 0;
        for (int64_t i = 0; i < gl; ++i) {
          const double* grow = gram.data() + (g * gl + i) * cols + g * gl;
          double acc = 0;
          for (int64_t j = 0; j < gl; ++j) acc += grow[j] * d[size_t(j)];
          err += d[size_t(i)] * acc;
        }
        if (err < best_err) {
          best_err = err;
          best[size_t(r * G + g)] = ratio;
        }
      }
    }
  }
  return best;
}

}  // namespace llmq
