#include "quant/formats/ggml/grid_search.h"

#include <algorithm>
#include <bit>
#include <iterator>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "util/half.h"

namespace llmq::ggml::iq {

namespace {

// Search effort, tuned on rows of the fixture models against ggml's
// quantizers (weighted error and time): more steps or candidates than these
// bought well under 1% of error for a large share of the time.
struct Effort {
  int coarse_steps = 10;       // step 1: s = s_ref * coarse_first * coarse_ratio^k over the whole grid
  float coarse_first = 0.3f;
  float coarse_ratio = 1.2f;
  float wide_ratio = 1.5f;     // then up to the scale putting the largest value on the smallest grid magnitude
  int extend_steps = 12;       // and below the first scale while the error falls
  int fine_steps = 3;          // then s * fine_ratio^k, k = -3..3, on the shortlist
  float fine_ratio = 1.05f;
  int refits = 2;              // least-squares refits of s
  int codes_below = 0;         // step 2: codes tried around a sub-block's ideal scale
  int codes_above = 1;
  int super_scales = 4;        // candidate d
  int shortlist = 128;         // points kept per group of grids of 1024 points or more
};
constexpr Effort kEffort;

// min over the table of s*B - C: the error of the group's best point, less a constant.
// n is a multiple of 64. This is most of the search's time, and for the
// 256-point grids the final horizontal min matters as much as the scan:
// compilers turn a plain reduction of the running minima into a chain of
// scalar compares, so the vector builds reduce with the intrinsics' tree.
// Every path computes s*B - C with one fused multiply-subtract where the
// target has FMA, as argmin_line's expression compiles to, so both agree.
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
float horizontal_min(__m256 v) {
  __m128 h = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  h = _mm_min_ps(h, _mm_movehl_ps(h, h));
  h = _mm_min_ss(h, _mm_shuffle_ps(h, h, 1));
  return _mm_cvtss_f32(h);
}

// GCC 12's _mm512_undefined_ps (inside _mm512_min_ps) trips -Wuninitialized.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#if defined(__AVX512F__)
struct Lanes {
  using V = __m512;
  static constexpr int kWidth = 16;
  static V splat(float v) { return _mm512_set1_ps(v); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V min(V a, V b) { return _mm512_min_ps(a, b); }
  static V fmsub(V a, V b, V c) { return _mm512_fmsub_ps(a, b, c); }
  static unsigned at_or_below(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
  static float hmin(V v) {
    const __m256 high = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    return horizontal_min(_mm256_min_ps(_mm512_castps512_ps256(v), high));
  }
};
#else
struct Lanes {
  using V = __m256;
  static constexpr int kWidth = 8;
  static V splat(float v) { return _mm256_set1_ps(v); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V min(V a, V b) { return _mm256_min_ps(a, b); }
  static V fmsub(V a, V b, V c) { return _mm256_fmsub_ps(a, b, c); }
  static unsigned at_or_below(V a, V b) { return unsigned(_mm256_movemask_ps(_mm256_cmp_ps(a, b, _CMP_LE_OQ))); }
  static float hmin(V v) { return horizontal_min(v); }
};
#endif

float min_line(const float* __restrict B, const float* __restrict C, int n, float s) {
  const Lanes::V vs = Lanes::splat(s);
  Lanes::V m[4];
  for (auto& v : m) v = Lanes::splat(INFINITY);
  for (int g = 0; g < n; g += 4 * Lanes::kWidth)
    for (int r = 0; r < 4; ++r) {
      const int i = g + r * Lanes::kWidth;
      m[r] = Lanes::min(m[r], Lanes::fmsub(vs, Lanes::load(B + i), Lanes::load(C + i)));
    }
  return Lanes::hmin(Lanes::min(Lanes::min(m[0], m[1]), Lanes::min(m[2], m[3])));
}

// The first position whose s*B - C is at or below `best`, or -1.
int first_at_or_below(const float* B, const float* C, int n, float s, float best) {
  const Lanes::V vs = Lanes::splat(s), vb = Lanes::splat(best);
  for (int g = 0; g < n; g += Lanes::kWidth)
    if (const unsigned hit = Lanes::at_or_below(Lanes::fmsub(vs, Lanes::load(B + g), Lanes::load(C + g)), vb))
      return g + std::countr_zero(hit);
  return -1;
}

// Bit i set where val[i] <= cut, for 16 values.
unsigned at_or_below_16(const float* val, float cut) {
  unsigned mask = 0;
  for (int k = 0; k < 16; k += Lanes::kWidth) mask |= Lanes::at_or_below(Lanes::load(val + k), Lanes::splat(cut)) << k;
  return mask;
}
#pragma GCC diagnostic pop
#else
float min_line(const float* __restrict B, const float* __restrict C, int n, float s) {
  constexpr int kLanes = 16;
  float m[4][kLanes];
  for (auto& row : m)
    for (float& v : row) v = INFINITY;
  for (int g = 0; g < n; g += 4 * kLanes)
    for (int r = 0; r < 4; ++r)
#pragma omp simd
      for (int k = 0; k < kLanes; ++k) {
        const int i = g + r * kLanes + k;
        m[r][k] = std::min(m[r][k], s * B[i] - C[i]);
      }
  float best = INFINITY;
  for (auto& row : m)
    for (float v : row) best = std::min(best, v);
  return best;
}

int first_at_or_below(const float* B, const float* C, int n, float s, float best) {
  constexpr int kChunk = 32;
  for (int g0 = 0; g0 < n; g0 += kChunk) {
    bool hit = false;
#pragma omp simd reduction(| : hit)
    for (int k = 0; k < kChunk; ++k) hit |= s * B[g0 + k] - C[g0 + k] <= best;
    if (!hit) continue;
    for (int g = g0; g < g0 + kChunk; ++g)
      if (s * B[g] - C[g] <= best) return g;
  }
  return -1;
}

unsigned at_or_below_16(const float* val, float cut) {
  unsigned mask = 0;
  for (int k = 0; k < 16; ++k) mask |= unsigned(val[k] <= cut) << k;
  return mask;
}
#endif

// The position reaching that min, found again by the same expression
// (with a plain scan should rounding ever differ).
int argmin_line(const float* B, const float* C, int n, float s, float& best) {
  best = min_line(B, C, n, s);
  if (const int g = first_at_or_below(B, C, n, s, best); g >= 0) return g;
  int arg = 0;
  best = INFINITY;
  for (int g = 0; g < n; ++g) {
    const float v = s * B[g] - C[g];
    if (v < best) best = v, arg = g;
  }
  return arg;
}

// B[g] = sum w_i v_gi^2 and C[g] = 2 sum u_i v_gi over every point (u_i =
// w_i x_i, with |x_i| for sign-bit formats), vectorised over g.
template <int Dim>
void group_sums(const GridCodebook& book, const float* u, const float* w, float* __restrict B,
                float* __restrict C) {
  const int n = book.size();
  const float* t[Dim];
  const float* t2[Dim];
  for (int i = 0; i < Dim; ++i) t[i] = book.values(i), t2[i] = book.squares(i);
#pragma omp simd
  for (int g = 0; g < n; ++g) {
    float b = 0, c = 0;
    for (int i = 0; i < Dim; ++i) {
      c += u[i] * t[i][g];
      b += w[i] * t2[i][g];
    }
    B[g] = b;
    C[g] = 2 * c;
  }
}

// F[g] = C[g] - min_i 4 u_i v_gi: C less the cheapest sign flip (u_i = w_i |x_i|).
template <int Dim>
void flipped_sums(const GridCodebook& book, const float* u, const float* __restrict C, float* __restrict F) {
  const int n = book.size();
  const float* t[Dim];
  for (int i = 0; i < Dim; ++i) t[i] = book.values(i);
#pragma omp simd
  for (int g = 0; g < n; ++g) {
    float m = u[0] * t[0][g];
    for (int i = 1; i < Dim; ++i) m = std::min(m, u[i] * t[i][g]);
    F[g] = C[g] - 4 * m;
  }
}

}  // namespace

GridSearch::GridSearch(const GridFormat& format) : f_(format) {
  dim_ = f_.variants[0]->dim();
  n_ = f_.variants[0]->size();
  groups_ = f_.sub_size / dim_;
  units_ = f_.sub_size / 8;
  n_sub_ = 256 / f_.sub_size;
  kinds_ = f_.even_parity ? 2 : 1;
  // Small grids are cheaper to scan whole than to shortlist.
  short_n_ = n_ >= 1024 ? kEffort.shortlist : n_;
  float smallest = INFINITY;
  for (const GridCodebook* book : f_.variants) smallest = std::min(smallest, book->min_abs());
  s_top_ = 1 / smallest;
  const size_t tables = size_t(n_sub_) * f_.variants.size() * groups_;
  const size_t full = tables * (1 + kinds_) * n_;  // B, C (and C flipped)
  const size_t shorts = tables * kinds_ * 2 * short_n_;
  thread_local std::vector<float> arena;
  thread_local std::vector<uint16_t> index_arena;
  thread_local std::vector<int> len_arena;
  if (len_arena.size() < tables * kinds_) len_arena.resize(tables * kinds_);
  short_len_ = len_arena.data();
  if (arena.size() < full + shorts + n_) arena.resize(full + shorts + n_);
  if (index_arena.size() < tables * kinds_ * short_n_) index_arena.resize(tables * kinds_ * short_n_);
  full_ = arena.data();
  short_ = full_ + full;
  scratch_ = short_ + shorts;
  short_index_ = index_arena.data();
}

GridSearch::Table GridSearch::table(int j, int v, int group, Kind kind, bool shortlist) const {
  const size_t t = (size_t(j) * f_.variants.size() + v) * groups_ + group;
  if (!shortlist || short_n_ == n_) {
    const float* base = full_ + t * (1 + kinds_) * n_;
    return {base, base + (1 + kind) * n_, nullptr, n_};
  }
  const size_t k = t * kinds_ + kind;
  const float* base = short_ + k * 2 * short_n_;
  return {base, base + short_n_, short_index_ + k * short_n_, short_len_[k]};
}

void GridSearch::build(int j) {
  const float* x = x_ + j * f_.sub_size;
  const float* w = w_ + j * f_.sub_size;
  for (int u = 0; u < units_; ++u) {
    int negatives = 0;
    for (int i = 0; i < 8; ++i) negatives += x[8 * u + i] < 0;
    odd_[j][u] = f_.even_parity && (negatives & 1);
  }
  for (size_t v = 0; v < f_.variants.size(); ++v) {
    const GridCodebook& book = *f_.variants[v];
    for (int gi = 0; gi < groups_; ++gi) {
      const float* xs = x + gi * dim_;
      const float* ws = w + gi * dim_;
      float u[8];
      for (int i = 0; i < dim_; ++i) u[i] = ws[i] * (f_.sign_bits ? std::fabs(xs[i]) : xs[i]);
      const Table plain = table(j, int(v), gi, kPlain, false);
      float* B = const_cast<float*>(plain.B);
      float* C = const_cast<float*>(plain.C);
      if (dim_ == 8) group_sums<8>(book, u, ws, B, C);
      else group_sums<4>(book, u, ws, B, C);
      if (f_.even_parity) {
        float* F = const_cast<float*>(table(j, int(v), gi, kFlipped, false).C);
        if (dim_ == 8) flipped_sums<8>(book, u, C, F);
        else flipped_sums<4>(book, u, C, F);
      }
    }
  }
}

// Keeps, per group, about short_n_ / 2 (at most short_n_) of the points
// with the lowest error at scale s. The cut-off is a quantile of a sample of
// the values, which is much cheaper than an exact selection and as good
// for the purpose; the list is padded to a multiple of 64 with points that
// never win (B = 0, C = -inf).
void GridSearch::shortlist(int j, float s) {
  if (short_n_ == n_) return;
  constexpr int kSample = 64, kChunk = 16;
  const int stride = n_ / kSample;
  const int rank = std::max(1, (short_n_ / 2) / stride) - 1;
  for (int v = first_variant(j, true); v <= last_variant(j, true); ++v)
    for (int gi = 0; gi < groups_; ++gi)
      for (int kind = 0; kind < kinds_; ++kind) {
        const Table all = table(j, v, gi, Kind(kind), false);
        float* val = scratch_;
#pragma omp simd
        for (int g = 0; g < n_; ++g) val[g] = s * all.B[g] - all.C[g];
        float sample[kSample];
        for (int k = 0; k < kSample; ++k) sample[k] = val[k * stride];
        std::nth_element(sample, sample + rank, sample + kSample);
        const float cut = sample[rank];
        const size_t k = ((size_t(j) * f_.variants.size() + v) * groups_ + gi) * kinds_ + kind;
        float* B = short_ + k * 2 * short_n_;
        float* C = B + short_n_;
        uint16_t* index = short_index_ + k * short_n_;
        int m = 0;
        for (int g0 = 0; g0 < n_ && m < short_n_; g0 += kChunk)
          for (unsigned hit = at_or_below_16(val + g0, cut); hit && m < short_n_; hit &= hit - 1) {
            const int g = g0 + std::countr_zero(hit);
            B[m] = all.B[g], C[m] = all.C[g], index[m++] = uint16_t(g);
          }
        short_len_[k] = (m + 63) / 64 * 64;
        for (; m < short_len_[k]; ++m) B[m] = 0, C[m] = -INFINITY, index[m] = 0;
      }
}

float GridSearch::variant_cost(int j, int v, float s, bool shortlist) const {
  const int per_unit = groups_ / units_;  // 1 (groups of 8) or 2 (groups of 4)
  auto best_of = [&](int gi, Kind kind) {
    const Table t = table(j, v, gi, kind, shortlist);
    return min_line(t.B, t.C, t.n, s);
  };
  float total = 0;
  for (int u = 0; u < units_; ++u) {
    const bool odd = odd_[j][u];
    if (per_unit == 1) {
      total += best_of(u, odd ? kFlipped : kPlain);
      continue;
    }
    const float ma = best_of(2 * u, kPlain), mb = best_of(2 * u + 1, kPlain);
    // With an odd count one of the two groups takes the flip.
    total += odd ? std::min(best_of(2 * u, kFlipped) + mb, ma + best_of(2 * u + 1, kFlipped)) : ma + mb;
  }
  return s * total;
}

float GridSearch::cost(int j, float s, bool shortlist) const {
  float best = INFINITY;
  for (int v = first_variant(j, shortlist); v <= last_variant(j, shortlist); ++v)
    best = std::min(best, variant_cost(j, v, s, shortlist));
  return best;
}

void GridSearch::choose(int j, float s, bool shortlist, SubBlockChoice& c, double& sum_b, double& sum_c) const {
  const float* x = x_ + j * f_.sub_size;
  const float* w = w_ + j * f_.sub_size;
  const int per_unit = groups_ / units_;
  float best_total = INFINITY;
  for (int v = first_variant(j, shortlist); v <= last_variant(j, shortlist); ++v) {
    SubBlockChoice trial;
    trial.variant = v;
    double tb = 0, tc = 0;
    float total = 0;
    for (int u = 0; u < units_; ++u) {
      const bool odd = odd_[j][u];
      // Best point of each group of the unit, without and with the flip.
      float m[2][2] = {};
      int arg[2][2] = {};
      Table tab[2][2] = {};
      for (int k = 0; k < per_unit; ++k)
        for (int kind = 0; kind < (odd ? 2 : 1); ++kind) {
          tab[k][kind] = table(j, v, per_unit * u + k, Kind(kind), shortlist);
          arg[k][kind] = argmin_line(tab[k][kind].B, tab[k][kind].C, tab[k][kind].n, s, m[k][kind]);
        }
      // Which group of the unit takes the sign flip (-1: none).
      const int flip_group = !odd ? -1 : per_unit == 1 ? 0 : (m[0][1] + m[1][0] <= m[0][0] + m[1][1] ? 0 : 1);
      for (int k = 0; k < per_unit; ++k) {
        const int kind = k == flip_group ? 1 : 0;
        const Table& t = tab[k][kind];
        const int pos = arg[k][kind];
        trial.point[per_unit * u + k] = t.index ? t.index[pos] : uint16_t(pos);
        total += m[k][kind];
        tb += t.B[pos];
        tc += t.C[pos];
      }
      if (!f_.sign_bits) continue;
      uint8_t bits = 0;
      for (int i = 0; i < 8; ++i) bits |= uint8_t((x[8 * u + i] < 0) << i);
      if (flip_group >= 0) {
        // Flip the value whose wrong sign costs least with the chosen point.
        const int gi = per_unit * u + flip_group;
        const GridCodebook& book = *f_.variants[v];
        int cheapest = 0;
        float least = INFINITY;
        for (int i = 0; i < dim_; ++i) {
          const float pen = w[gi * dim_ + i] * std::fabs(x[gi * dim_ + i]) * book.value(trial.point[gi], i);
          if (pen < least) least = pen, cheapest = i;
        }
        bits ^= uint8_t(1 << (flip_group * dim_ + cheapest));
      }
      trial.signs[u] = bits;
    }
    if (total < best_total) best_total = total, c = trial, sum_b = tb, sum_c = tc;
  }
}

float GridSearch::ideal_scale(int j) {
  const float* x = x_ + j * f_.sub_size;
  float xmax = 0;
  for (int i = 0; i < f_.sub_size; ++i) xmax = std::max(xmax, std::fabs(x[i]));
  if (!(xmax > 0)) return 0;
  // Coarse scan over the whole grid, s_ref putting the largest value on the largest grid value.
  const float s_ref = xmax / f_.variants[0]->max_abs();
  float best_s = s_ref, best = INFINITY;
  auto probe = [&](float sk) {
    const float c = cost(j, sk, false);
    if (c < best) best = c, best_s = sk;
  };
  float s = s_ref * kEffort.coarse_first;
  for (int k = 0; k < kEffort.coarse_steps; ++k, s *= kEffort.coarse_ratio) probe(s);
  // Values of similar size can want every value on the smallest grid
  // magnitude: sparser probes up to that scale (the error is not unimodal
  // in s, so following it from the scan would stop at a local minimum).
  for (; s < s_top_ * xmax * kEffort.wide_ratio; s *= kEffort.wide_ratio) probe(s);
  // A few large values can want a smaller scale than the scan's first.
  if (best_s == s_ref * kEffort.coarse_first)
    for (int k = 0; k < kEffort.extend_steps; ++k) {
      const float before = best;
      probe(best_s / kEffort.coarse_ratio);
      if (!(best < before)) break;
    }
  // Fine scan and refits on the points that do best near the coarse optimum,
  // of the variant that does best there (the other is looked at again for
  // the final choice).
  kept_variant_[j] = -1;
  if (f_.variants.size() > 1) {
    float least = INFINITY;
    for (int v = 0; v < int(f_.variants.size()); ++v) {
      const float c = variant_cost(j, v, best_s, false);
      if (c < least) least = c, kept_variant_[j] = v;
    }
  }
  shortlist(j, best_s);
  best = cost(j, best_s, true);
  const float centre = best_s;
  for (int k = -kEffort.fine_steps; k <= kEffort.fine_steps; ++k) {
    if (k == 0) continue;
    const float sk = centre * std::pow(kEffort.fine_ratio, float(k));
    const float c = cost(j, sk, true);
    if (c < best) best = c, best_s = sk;
  }
  // For fixed points the error is a parabola in s, lowest at C/(2B).
  for (int it = 0; it < kEffort.refits; ++it) {
    SubBlockChoice ch;
    double sb = 0, sc = 0;
    choose(j, best_s, true, ch, sb, sc);
    if (!(sb > 0 && sc > 0)) break;
    const float s_ls = float(sc / (2 * sb));
    const float c = cost(j, s_ls, true);
    if (!(c < best)) break;
    best = c, best_s = s_ls;
  }
  return best_s;
}

void GridSearch::best_codes(const float* d_wanted, int n_cand, const float* ideal, Candidate* out) const {
  for (int c = 0; c < n_cand; ++c) {
    out[c].d_bits = f32_to_f16(d_wanted[c] / f_.unit);
    out[c].d_eff = f16_to_f32(out[c].d_bits) * f_.unit;
    out[c].total = out[c].d_eff > 0 && std::isfinite(out[c].d_eff) ? 0.0 : INFINITY;
  }
  // Sub-block by sub-block, so that its tables stay in cache for every candidate.
  for (int j = 0; j < n_sub_; ++j)
    for (int c = 0; c < n_cand; ++c) {
      if (!(out[c].total < INFINITY)) continue;
      const float centre = std::clamp((ideal[j] / out[c].d_eff - 1) / 2, -2.f, float(f_.n_codes + 1));
      const int l0 = int(std::floor(centre));
      float best = INFINITY;
      const int lo = std::max(0, l0 - kEffort.codes_below), hi = std::min(f_.n_codes - 1, l0 + kEffort.codes_above);
      for (int l = lo; l <= hi; ++l) {
        const float e = cost(j, out[c].d_eff * float(2 * l + 1), true);
        if (e < best) best = e, out[c].codes[j] = uint8_t(l);
      }
      out[c].total += best;
    }
}

void GridSearch::fit(const float* x, const float* w, GridCode& out) {
  x_ = x, w_ = w;
  out = GridCode{};
  float ideal[16], top = 0;
  for (int j = 0; j < n_sub_; ++j) {
    build(j);
    ideal[j] = ideal_scale(j);
    top = std::max(top, ideal[j]);
  }
  if (!(top > 0)) return;  // all zero: d = 0 decodes every value to 0

  // The largest ideal scale on the top code, or up to most of a code step
  // below it (coarser codes fitting the other sub-blocks better).
  const float top_odd = float(2 * f_.n_codes - 1);
  constexpr float shifts[] = {0.f, 0.5f, 1.f, 1.5f};
  static_assert(std::size(shifts) >= size_t(kEffort.super_scales));
  float wanted[std::size(shifts)];
  Candidate cand[std::size(shifts)];
  for (int k = 0; k < kEffort.super_scales; ++k) wanted[k] = top / (top_odd - shifts[k]);
  best_codes(wanted, kEffort.super_scales, ideal, cand);
  const Candidate* best =
      std::min_element(cand, cand + kEffort.super_scales, [](auto& a, auto& b) { return a.total < b.total; });
  if (!(best->total < INFINITY)) return;  // d not representable (tiny or huge values): zeros
  Candidate chosen = *best;

  // Least-squares d for the chosen codes and points.
  double num = 0, den = 0;
  for (int j = 0; j < n_sub_; ++j) {
    SubBlockChoice ch;
    double sb = 0, sc = 0;
    const double k = 2 * chosen.codes[j] + 1;
    choose(j, chosen.d_eff * float(k), true, ch, sb, sc);
    num += k * sc, den += k * k * sb;
  }
  if (den > 0 && num > 0) {
    const float refit = float(num / (2 * den));
    Candidate c;
    best_codes(&refit, 1, ideal, &c);
    if (c.total < chosen.total) chosen = c;
  }

  out.d_bits = chosen.d_bits;
  for (int j = 0; j < n_sub_; ++j) {
    out.code[j] = chosen.codes[j];
    double sb, sc;
    choose(j, chosen.d_eff * float(2 * chosen.codes[j] + 1), false, out.sub[j], sb, sc);
  }
}

}  // namespace llmq::ggml::iq
