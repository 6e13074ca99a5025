#include "quant/methods/gptq.h"

#include <algorithm>
#include <numeric>

#include <cblas.h>

#include "quant/methods/gptq_sweep.h"
#include "quant/methods/hessian_inverse.h"
#include "runtime/deterministic_gemm.h"
#include "util/error.h"

namespace llmq {

namespace {

// H <- P H P^T for the permutation new index i = old index perm[i], with one row of extra memory (a
// second n x n matrix is 6.6 GB at 70B width): rows moved along the permutation's cycles, then each
// row's columns.
void permute_symmetric_in_place(std::vector<double>& h, int64_t n, const std::vector<int64_t>& perm) {
  std::vector<double> buf(static_cast<size_t>(n));
  std::vector<bool> placed(static_cast<size_t>(n), false);
  auto row = [&](int64_t r) { return h.begin() + r * n; };
  for (int64_t start = 0; start < n; ++start) {
    if (placed[size_t(start)]) continue;
    std::copy_n(row(start), n, buf.begin());
    int64_t j = start;
    while (true) {
      placed[size_t(j)] = true;
      const int64_t from = perm[size_t(j)];
      if (from == start) {
        std::copy_n(buf.begin(), n, row(j));
        break;
      }
      std::copy_n(row(from), n, row(j));
      j = from;
    }
  }
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < n; ++c) buf[size_t(c)] = h[size_t(r * n + perm[size_t(c)])];
    std::copy_n(buf.begin(), n, row(r));
  }
}

// Chooses the grid of one (row, group): plain min-max, or (clip_search) the clipping ratio whose
// rounding errors e_c are cheapest in GPTQ's own measure, sum_c e_c^2 / U_cc^2: the part of the
// layer-output error that quantizing column c leaves after the later columns compensate it.
class GroupGridFitter {
 public:
  GroupGridFitter(const IntQuantSpec& spec, const GptqOptions& opt) : spec_(spec), opt_(opt) {}

  // w: the group's len values of one row; cost: per column 1 / U_cc^2, or null for min-max.
  GroupGrid fit(const float* w, const float* cost, int64_t len) const {
    float lo, hi;
    value_range(w, len, 1, lo, hi);
    if (!opt_.clip_search || !cost) return fit_group_grid(lo, hi, spec_);
    const int steps = std::max(1, opt_.clip_grid);
    const int maxq = spec_.maxq();
    GroupGrid best = fit_group_grid(lo, hi, spec_);
    double best_err = -1;
    for (int k = 0; k < steps; ++k) {
      const GroupGrid g = fit_group_grid(lo, hi, spec_, 1.0f - float(k) * (1.0f - opt_.clip_min_ratio) / float(steps));
      double err = 0;
      for (int64_t c = 0; c < len; ++c) {
        const double e = double(w[c]) - double(g.dequantize(g.quantize(w[c], maxq)));
        err += e * e * double(cost[c]);
      }
      if (best_err < 0 || err < best_err) {
        best_err = err;
        best = g;
      }
    }
    return best;
  }

 private:
  const IntQuantSpec& spec_;
  const GptqOptions& opt_;
};

}  // namespace

QuantizedLinear gptq_quantize(const Tensor& w, std::vector<double> h, const IntQuantSpec& spec, const GptqOptions& opt,
                              GptqStats* stats) {
  if (w.shape.size() != 2) fail("GPTQ needs a 2-D weight, got {}", shape_str(w.shape));
  const int64_t m = w.rows(), n = w.cols();
  spec.validate(n);
  if (int64_t(h.size()) != n * n) fail("GPTQ: Hessian has {} entries, expected {}x{}", h.size(), n, n);
  if (opt.block_size <= 0) fail("GPTQ: block size must be positive");
  const int64_t gl = spec.group_len(n);
  const int maxq = spec.maxq();
  GptqStats st;

  // Working copy, transposed: column j of W is the contiguous row j of wt.
  std::vector<float> wt;
  st.dead_columns = gptq_columns(w, h, wt);

  QuantizedLinear out;
  out.init(m, n, spec);

  // Act order: the columns with the largest Hessian diagonal (most active inputs) first.
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  if (opt.desc_act) {
    std::stable_sort(perm.begin(), perm.end(),
                     [&](int64_t a, int64_t b) { return h[size_t(a * n + a)] > h[size_t(b * n + b)]; });
    std::vector<float> wp(wt.size());
    for (int64_t i = 0; i < n; ++i) std::copy_n(wt.begin() + perm[size_t(i)] * m, m, wp.begin() + i * m);
    wt.swap(wp);
    permute_symmetric_in_place(h, n, perm);
  }

  HessianInverseResult hinv = hessian_inverse_cholesky(std::move(h), n, opt.damp_percent);
  st.damp_percent = hinv.damp_percent;
  st.retries = hinv.retries;
  st.rtn_fallback = hinv.identity_fallback;
  st.warning = hinv.warning;
  const std::vector<float>& U = hinv.upper;

  // The grid search's cost per permuted column (none when the Hessian was unusable: plain RTN grids).
  std::vector<float> cost;
  if (opt.clip_search && !hinv.identity_fallback) {
    cost.resize(size_t(n));
    for (int64_t j = 0; j < n; ++j) cost[size_t(j)] = 1.0f / (U[size_t(j * n + j)] * U[size_t(j * n + j)]);
  }
  const GroupGridFitter fitter(spec, opt);

  // Static groups: every grid from the original weights, groups in the original column order. Min-max
  // only: the updates that follow move weights, and a range clipped before them would clamp more.
  std::vector<std::vector<GroupGrid>> static_grids;
  if (opt.static_groups) {
    std::vector<int64_t> pos(static_cast<size_t>(n));  // original column -> permuted position
    for (int64_t j = 0; j < n; ++j) pos[size_t(perm[size_t(j)])] = j;
    static_grids.assign(size_t(out.n_groups()), std::vector<GroupGrid>(size_t(m)));
    for (int64_t g = 0; g < out.n_groups(); ++g) {
#pragma omp parallel for schedule(static) if (m * gl > 16384)
      for (int64_t r = 0; r < m; ++r) {
        std::vector<float> vals(static_cast<size_t>(gl));
        for (int64_t c = 0; c < gl; ++c) vals[size_t(c)] = wt[size_t(pos[size_t(g * gl + c)] * m + r)];
        static_grids[size_t(g)][size_t(r)] = fitter.fit(vals.data(), nullptr, gl);
      }
    }
  }

  std::vector<uint8_t> qt(static_cast<size_t>(n * m));  // codes, permuted and transposed
  std::vector<int32_t> group_of(static_cast<size_t>(n));  // group of permuted column j
  for (int64_t j = 0; j < n; ++j) group_of[size_t(j)] = int32_t(opt.static_groups ? perm[size_t(j)] / gl : j / gl);
  std::vector<GroupGrid> grids(static_cast<size_t>(m));
  auto at_column = [&](int64_t j, int64_t r0, int64_t r1) {
    const int64_t g = group_of[size_t(j)];
    if (opt.static_groups) {
      for (int64_t r = r0; r < r1; ++r) grids[size_t(r)] = static_grids[size_t(g)][size_t(r)];
    } else if (j % gl == 0) {
      // The group's grid from its columns as they are now (earlier errors already folded in).
      const int64_t len = std::min(gl, n - j);
      std::vector<float> v(static_cast<size_t>(len));
      for (int64_t r = r0; r < r1; ++r) {
        for (int64_t c = 0; c < len; ++c) v[size_t(c)] = wt[size_t((j + c) * m + r)];
        grids[size_t(r)] = fitter.fit(v.data(), cost.empty() ? nullptr : cost.data() + j, len);
        out.set_grid(r, g, grids[size_t(r)]);
      }
    }
  };
  auto quantize = [&](int64_t j, int64_t r, float v) {
    const GroupGrid& gg = grids[size_t(r)];
    const int q = gg.quantize(v, maxq);
    qt[size_t(j * m + r)] = uint8_t(q);
    return gg.dequantize(q);
  };
  st.loss = gptq_sweep(wt, m, n, U, opt.block_size, at_column, quantize);

  // Back to the original column order; act order without static groups keeps its groups in g_idx.
  for (int64_t j = 0; j < n; ++j) {
    const int64_t c = perm[size_t(j)];
    out.g_idx[size_t(c)] = group_of[size_t(j)];
    for (int64_t r = 0; r < m; ++r) out.q[size_t(r * n + c)] = qt[size_t(j * m + r)];
  }
  if (opt.static_groups)
    for (int64_t g = 0; g < out.n_groups(); ++g)
      for (int64_t r = 0; r < m; ++r) out.set_grid(r, g, static_grids[size_t(g)][size_t(r)]);
  if (stats) *stats = st;
  return out;
}

double output_error_from_gram(const Tensor& w, const Tensor& q, const std::vector<double>& gram) {
  const int64_t m = w.rows(), n = w.cols();
  double total = 0;
#pragma omp parallel for schedule(static) reduction(+ : total)
  for (int64_t r = 0; r < m; ++r) {
    std::vector<double> d(static_cast<size_t>(n));
    for (int64_t c = 0; c < n; ++c) d[size_t(c)] = double(w.data[size_t(r * n + c)]) - double(q.data[size_t(r * n + c)]);
    double s = 0;
    for (int64_t i = 0; i < n; ++i) {
      double gi = 0;
      const double* row = gram.data() + i * n;
      for (int64_t j = 0; j < n; ++j) gi += row[j] * d[size_t(j)];
      s += d[size_t(i)] * gi;
    }
    total += s;
  }
  return total;
}

}  // namespace llmq
