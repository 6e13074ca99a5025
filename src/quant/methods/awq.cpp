#include "quant/methods/awq.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <cblas.h>

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
  std::vector<double> best_err(static_cast<size_t>(rows));
  const int steps = std::max(1, opt.clip_grid);
  std::vector<double> ggg(static_cast<size_t>(gl * gl)), d(static_cast<size_t>(rows * gl)), dg(static_cast<size_t>(rows * gl));
  std::vector<float> lo(static_cast<size_t>(rows)), hi(static_cast<size_t>(rows));
  for (int64_t g = 0; g < G; ++g) {
    for (int64_t i = 0; i < gl; ++i)  // the group's diagonal block of the Gram matrix
      std::copy_n(gram.data() + (g * gl + i) * cols + g * gl, gl, ggg.data() + i * gl);
    for (int64_t r = 0; r < rows; ++r) value_range(w.row(r) + g * gl, gl, 1, lo[size_t(r)], hi[size_t(r)]);
    std::fill(best_err.begin(), best_err.end(), std::numeric_limits<double>::infinity());
    for (int k = 0; k < steps; ++k) {
      const float ratio = 1.0f - float(k) * (1.0f - opt.clip_min_ratio) / float(steps);
#pragma omp parallel for schedule(static) if (rows * gl > 16384)
      for (int64_t r = 0; r < rows; ++r) {
        const GroupGrid grid = fit_group_grid(lo[size_t(r)], hi[size_t(r)], spec, ratio);
        const float* wg = w.row(r) + g * gl;
        for (int64_t c = 0; c < gl; ++c)
          d[size_t(r * gl + c)] = double(wg[c]) - double(grid.dequantize(grid.quantize(wg[c], maxq)));
      }
      // Every row's error d^T G_gg d at once: (D G_gg) row-dotted with D.
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), int(gl), int(gl), 1.0, d.data(), int(gl),
                  ggg.data(), int(gl), 0.0, dg.data(), int(gl));
      for (int64_t r = 0; r < rows; ++r) {
        double err = 0;
        for (int64_t c = 0; c < gl; ++c) err += d[size_t(r * gl + c)] * dg[size_t(r * gl + c)];
        if (err < best_err[size_t(r)]) {
          best_err[size_t(r)] = err;
          best[size_t(r * G + g)] = ratio;
        }
      }
    }
  }
  return best;
}

}  // namespace llmq
