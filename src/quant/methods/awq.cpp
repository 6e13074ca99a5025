#include "quant/methods/awq.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "quant/formats/intq/group_grid.h"
#include "runtime/deterministic_gemm.h"
#include "util/error.h"

namespace llmq {

namespace {

int64_t scale_of(const AwqScaledLinear& l, int64_t c) { return l.tie ? (*l.tie)[size_t(c)] : c; }

}  // namespace

// The sum over rows i < n of row(i), rows computed in parallel and added in
// order: the same value on any thread count (a reduction clause adds
// per-thread partial sums, which depend on it).
template <typename RowFn>
double ordered_row_sum(int64_t n, const RowFn& row) {
  std::vector<double> v(static_cast<size_t>(n));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = row(i);
  double s = 0;
  for (double x : v) s += x;
  return s;
}

std::vector<float> awq_weight_magnitude(const std::vector<AwqScaledLinear>& linears, const IntQuantSpec& spec,
                                        int64_t n_scales) {
  std::vector<double> sum(size_t(n_scales), 0.0);
  std::vector<int64_t> count(size_t(n_scales), 0);
  for (const AwqScaledLinear& l : linears) {
    const Tensor& w = *l.weight;
    const int64_t rows = w.rows(), cols = w.cols(), gl = spec.group_len(cols);
    // Groups of columns in parallel, each column adding its rows in order: the same sums on any thread count.
    std::vector<double> col_sum(size_t(cols), 0.0);
    const int64_t n_groups = (cols + gl - 1) / gl;
#pragma omp parallel for schedule(static)
    for (int64_t g = 0; g < n_groups; ++g) {
      const int64_t g0 = g * gl, g1 = std::min(cols, g0 + gl);
      for (int64_t r = 0; r < rows; ++r) {
        const float* row = w.row(r);
        float amax = 0;
        for (int64_t c = g0; c < g1; ++c) amax = std::max(amax, std::fabs(row[c]));
        const double inv = 1.0 / (double(amax) + 1e-6);
        for (int64_t c = g0; c < g1; ++c) col_sum[size_t(c)] += std::fabs(double(row[c])) * inv;
      }
    }
    for (int64_t c = 0; c < cols; ++c) {
      sum[size_t(scale_of(l, c))] += col_sum[size_t(c)];
      count[size_t(scale_of(l, c))] += rows;
    }
  }
  std::vector<float> m(static_cast<size_t>(n_scales));
  for (int64_t i = 0; i < n_scales; ++i) m[size_t(i)] = float(sum[size_t(i)] / double(std::max<int64_t>(count[size_t(i)], 1)));
  return m;
}

std::vector<float> awq_scales_for_alpha(const std::vector<float>& x_mean, const std::vector<float>& w_mean, double alpha) {
  if (!w_mean.empty() && w_mean.size() != x_mean.size()) fail("AWQ: {} weight means for {} channels", w_mean.size(), x_mean.size());
  std::vector<float> s(x_mean.size());
  float lo = std::numeric_limits<float>::max(), hi = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    double v = std::pow(std::max(double(x_mean[i]), 1e-4), alpha);
    if (!w_mean.empty()) v = std::max(v / (std::pow(double(w_mean[i]), 1.0 - alpha) + 1e-4), 1e-4);
    s[i] = float(v);
    lo = std::min(lo, s[i]);
    hi = std::max(hi, s[i]);
  }
  const float norm = std::sqrt(hi * lo);
  if (norm > 0)
    for (float& v : s) v /= norm;
  return s;
}

double awq_scaled_output_error(const AwqScaledLinear& lin, const std::vector<float>& s, const IntQuantSpec& spec) {
  const Tensor& w = *lin.weight;
  const int64_t rows = w.rows(), cols = w.cols(), gl = spec.group_len(cols);
  const bool low_rank = lin.factor && !lin.factor->f.empty();
  if (low_rank ? lin.factor->n != cols : int64_t(lin.gram->size()) != cols * cols)
    fail("AWQ: Gram matrix does not match width {}", cols);
  const int64_t out_cols = low_rank ? lin.factor->rank : cols;  // columns of D G, or of D F
  const int maxq = spec.maxq();
  std::vector<float> sc(static_cast<size_t>(cols));
  for (int64_t c = 0; c < cols; ++c) sc[size_t(c)] = s[size_t(scale_of(lin, c))];
  // Rows in blocks, so that the error matrix D and D G stay small for wide models.
  const int64_t block = std::max<int64_t>(1, std::min<int64_t>(rows, (int64_t(1) << 21) / cols));
  std::vector<float> d(size_t(block * cols)), dg(size_t(block * out_cols));
  double total = 0;
  for (int64_t r0 = 0; r0 < rows; r0 += block) {
    const int64_t nb = std::min(block, rows - r0);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < nb; ++i) {
      const float* row = w.row(r0 + i);
      float* di = d.data() + i * cols;
      for (int64_t g0 = 0; g0 < cols; g0 += gl) {
        const int64_t g1 = std::min(cols, g0 + gl);
        float lo = row[g0] * sc[size_t(g0)], hi = lo;
        for (int64_t c = g0; c < g1; ++c) {
          const float v = row[c] * sc[size_t(c)];
          lo = std::min(lo, v);
          hi = std::max(hi, v);
        }
        const GroupGrid grid = fit_group_grid(lo, hi, spec);
        for (int64_t c = g0; c < g1; ++c) {
          const float v = row[c] * sc[size_t(c)];
          di[c] = row[c] - grid.dequantize(grid.quantize(v, maxq)) / sc[size_t(c)];
        }
      }
    }
    double part = 0;
    if (low_rank) {  // every row's d^T F F^T d at once: the squared norm of D F
      runtime::gemm(false, false, nb, out_cols, cols, 1.0f, d.data(), cols, lin.factor->f.data(), out_cols, 0.0f,
                    dg.data(), out_cols);
      part = ordered_row_sum(nb, [&](int64_t i) {
        double s = 0;
        for (int64_t j = 0; j < out_cols; ++j) s += double(dg[size_t(i * out_cols + j)]) * double(dg[size_t(i * out_cols + j)]);
        return s;
      });
    } else {  // every row's d^T G d at once: (D G) row-dotted with D
      runtime::gemm(false, false, nb, cols, cols, 1.0f, d.data(), cols, lin.gram->data(), cols, 0.0f, dg.data(), cols);
      part = ordered_row_sum(nb, [&](int64_t i) {
        double s = 0;
        for (int64_t j = 0; j < cols; ++j) s += double(d[size_t(i * cols + j)]) * double(dg[size_t(i * cols + j)]);
        return s;
      });
    }
    total += part;
  }
  return total;
}

AwqSearchResult awq_search_scales(const std::vector<float>& x_mean, const std::vector<float>& w_mean, int grid,
                                  const std::function<double(const std::vector<float>&)>& loss) {
  if (grid < 1) fail("AWQ grid must have at least one point");
  AwqSearchResult best;
  best.scales.assign(x_mean.size(), 1.0f);
  best.identity = true;
  best.loss = best.loss_identity = loss(best.scales);
  for (int k = 0; k < grid; ++k) {
    const double alpha = double(k) / grid;
    std::vector<float> s = awq_scales_for_alpha(x_mean, w_mean, alpha);
    const double l = loss(s);
    if (l < best.loss) {
      best.loss = l;
      best.alpha = alpha;
      best.identity = false;
      best.scales = std::move(s);
    }
  }
  return best;
}

AwqSearchResult awq_search_group(const std::vector<AwqScaledLinear>& linears, const std::vector<float>& x_mean,
                                 const IntQuantSpec& spec, const AwqOptions& opt) {
  const int64_t n = int64_t(x_mean.size());
  const std::vector<float> w_mean = opt.duo_scaling ? awq_weight_magnitude(linears, spec, n) : std::vector<float>{};
  return awq_search_scales(x_mean, w_mean, opt.grid, [&](const std::vector<float>& s) {
    double sum = 0;
    for (const AwqScaledLinear& l : linears) sum += awq_scaled_output_error(l, s, spec);
    return sum;
  });
}

std::vector<float> awq_search_clip(const Tensor& w, const IntQuantSpec& spec, const std::vector<double>& gram,
                                   const AwqOptions& opt) {
  const int64_t rows = w.rows(), cols = w.cols();
  spec.validate(cols);
  if (int64_t(gram.size()) != cols * cols) fail("AWQ clip search: Gram matrix does not match width {}", cols);
  const int64_t gl = spec.group_len(cols), G = spec.n_groups(cols);
  const int maxq = spec.maxq();
  const int64_t steps = std::max(1, opt.clip_grid);
  auto ratio_of = [&](int64_t k) { return 1.0f - float(k) * (1.0f - opt.clip_min_ratio) / float(steps); };
  std::vector<float> best(size_t(rows * G), 1.0f);
  // The errors of every ratio for a block of rows go through one sgemm: [steps * nb, gl] x [gl, gl].
  const int64_t block = std::max<int64_t>(1, std::min<int64_t>(rows, (int64_t(1) << 22) / (steps * gl)));
  std::vector<float> ggg(static_cast<size_t>(gl * gl)), d(static_cast<size_t>(steps * block * gl)),
      dg(static_cast<size_t>(steps * block * gl));
  for (int64_t g = 0; g < G; ++g) {
    for (int64_t i = 0; i < gl; ++i)  // the group's diagonal block of the Gram matrix
      for (int64_t j = 0; j < gl; ++j) ggg[size_t(i * gl + j)] = float(gram[size_t((g * gl + i) * cols + g * gl + j)]);
    for (int64_t r0 = 0; r0 < rows; r0 += block) {
      const int64_t nb = std::min(block, rows - r0);
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < nb; ++i) {
        const float* wg = w.row(r0 + i) + g * gl;
        float lo, hi;
        value_range(wg, gl, 1, lo, hi);
        for (int64_t k = 0; k < steps; ++k) {
          const GroupGrid grid = fit_group_grid(lo, hi, spec, ratio_of(k));
          float* dk = d.data() + (k * nb + i) * gl;
          for (int64_t c = 0; c < gl; ++c) dk[c] = wg[c] - grid.dequantize(grid.quantize(wg[c], maxq));
        }
      }
      // Every (ratio, row) error d^T G_gg d at once: (D G_gg) row-dotted with D.
      runtime::gemm(false, false, steps * nb, gl, gl, 1.0f, d.data(), gl, ggg.data(), gl, 0.0f, dg.data(), gl);
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < nb; ++i) {
        double best_err = std::numeric_limits<double>::infinity();
        for (int64_t k = 0; k < steps; ++k) {
          const float* dk = d.data() + (k * nb + i) * gl;
          const float* gk = dg.data() + (k * nb + i) * gl;
          double err = 0;
          for (int64_t c = 0; c < gl; ++c) err += double(dk[c]) * double(gk[c]);
          if (err < best_err) {
            best_err = err;
            best[size_t((r0 + i) * G + g)] = ratio_of(k);
          }
        }
      }
    }
  }
  return best;
}

}  // namespace llmq
