#include "dwq/layer_backprop.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "model/kernels/attention.h"
#include "model/ops.h"
#include "runtime/deterministic_gemm.h"

namespace llmq::dwq {

namespace {

using runtime::gemm;

// Y [T, rows] = X [T, cols] W^T (+ bias).
void linear_forward(const LayerLinear& L, const Tensor& bias, const float* X, float* Y, int64_t T) {
  gemm(false, true, T, L.rows, L.cols, 1.0f, X, L.cols, L.w.data(), L.cols, 0.0f, Y, L.rows);
  if (!bias.data.empty())
    for (int64_t t = 0; t < T; ++t)
      for (int64_t r = 0; r < L.rows; ++r) Y[t * L.rows + r] += bias.data[size_t(r)];
}

// From dY [T, rows]: dX [T, cols] (+)= dY W, and for a trainable linear the
// gradients of its scales and biases from dW = dY^T X.
void linear_backward(const LayerLinear& L, const float* X, const float* dY, float* dX, int64_t T, bool accumulate) {
  gemm(false, false, T, L.cols, L.rows, 1.0f, dY, L.rows, L.w.data(), L.cols, accumulate ? 1.0f : 0.0f, dX, L.cols);
  if (!L.trainable) return;
  std::vector<float> dW(size_t(L.rows * L.cols));
  gemm(true, false, L.rows, L.cols, T, 1.0f, dY, L.rows, X, L.cols, 0.0f, dW.data(), L.cols);
  L.trainable->a.accumulate_gradients(dW.data(), L.trainable->gs.data(), L.trainable->gb.data());
}

float silu(float x) { return x / (1.0f + std::exp(-x)); }
float silu_grad(float x) {
  const float s = 1.0f / (1.0f + std::exp(-x));
  return s * (1.0f + x * (1.0f - s));
}

void add_into(float* y, const float* x, int64_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

// SwiGLU MLP forward: keeps g, u, a.
void mlp_forward(const LayerLinear& gate, const LayerLinear& up, const LayerLinear& down, const float* h, int64_t T,
                 std::vector<float>& g, std::vector<float>& u, std::vector<float>& a, float* out) {
  static const Tensor kNoBias;
  const int64_t ffn = gate.rows;
  g.resize(size_t(T * ffn));
  u.resize(size_t(T * ffn));
  a.resize(size_t(T * ffn));
  linear_forward(gate, kNoBias, h, g.data(), T);
  linear_forward(up, kNoBias, h, u.data(), T);
  ops::swiglu(g.data(), u.data(), a.data(), T * ffn);
  linear_forward(down, kNoBias, a.data(), out, T);
}

// dh [T, hidden] = gradient of the MLP's input from dout.
void mlp_backward(const LayerLinear& gate, const LayerLinear& up, const LayerLinear& down, const float* h, int64_t T,
                  const std::vector<float>& g, const std::vector<float>& u, const std::vector<float>& a,
                  const float* dout, float* dh) {
  const int64_t ffn = gate.rows, n = T * ffn;
  std::vector<float> da(static_cast<size_t>(n));
  linear_backward(down, a.data(), dout, da.data(), T, false);
  std::vector<float> dg(static_cast<size_t>(n)), du(static_cast<size_t>(n));
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    dg[size_t(i)] = da[size_t(i)] * u[size_t(i)] * silu_grad(g[size_t(i)]);
    du[size_t(i)] = da[size_t(i)] * silu(g[size_t(i)]);
  }
  linear_backward(gate, h, dg.data(), dh, T, false);
  linear_backward(up, h, du.data(), dh, T, true);
}

void moe_forward(const LayerContext& ctx, const float* h, int64_t T, LayerTape& tape, float* out) {
  const ModelConfig& c = ctx.cfg;
  const int64_t E = c.n_experts, k = c.n_experts_used, H = c.hidden;
  static const Tensor kNoBias;
  tape.probs.resize(size_t(T * E));
  linear_forward(ctx.lin.router, kNoBias, h, tape.probs.data(), T);
  tape.sel.resize(size_t(T * k));
  tape.selw.resize(size_t(T * k));
  for (int64_t t = 0; t < T; ++t) {
    float* p = tape.probs.data() + t * E;
    ops::softmax(p, E);
    std::vector<int32_t> idx(static_cast<size_t>(E));
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                      [&](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
    float sum = 0.0f;
    for (int64_t j = 0; j < k; ++j) sum += p[idx[size_t(j)]];
    for (int64_t j = 0; j < k; ++j) {
      tape.sel[size_t(t * k + j)] = idx[size_t(j)];
      tape.selw[size_t(t * k + j)] = c.norm_topk_prob ? p[idx[size_t(j)]] / sum : p[idx[size_t(j)]];
    }
  }
  std::fill(out, out + T * H, 0.0f);
  tape.experts.assign(size_t(E), {});
  for (int32_t e = 0; e < E; ++e) {
    ExpertTape& et = tape.experts[size_t(e)];
    for (int64_t t = 0; t < T; ++t)
      for (int64_t j = 0; j < k; ++j)
        if (tape.sel[size_t(t * k + j)] == e) {
          et.rows.push_back(t);
          et.slots.push_back(j);
        }
    if (et.rows.empty()) continue;
    const int64_t n = int64_t(et.rows.size());
    et.xin.resize(size_t(n * H));
    et.y.resize(size_t(n * H));
    for (int64_t i = 0; i < n; ++i) std::memcpy(et.xin.data() + i * H, h + et.rows[size_t(i)] * H, size_t(H) * 4);
    const ExpertLinears& X = ctx.lin.experts[size_t(e)];
    mlp_forward(X.gate, X.up, X.down, et.xin.data(), n, et.g, et.u, et.a, et.y.data());
    for (int64_t i = 0; i < n; ++i) {
      const float w = tape.selw[size_t(et.rows[size_t(i)] * k + et.slots[size_t(i)])];
      float* o = out + et.rows[size_t(i)] * H;
      const float* yi = et.y.data() + i * H;
      for (int64_t d = 0; d < H; ++d) o[d] += w * yi[d];
    }
  }
}

void moe_backward(const LayerContext& ctx, const LayerTape& tape, const float* dout, float* dh) {
  const ModelConfig& c = ctx.cfg;
  const int64_t E = c.n_experts, k = c.n_experts_used, H = c.hidden, T = tape.T;
  std::fill(dh, dh + T * H, 0.0f);
  std::vector<double> dc(size_t(T * k), 0.0);  // gradient of each routing weight
  for (int32_t e = 0; e < E; ++e) {
    const ExpertTape& et = tape.experts[size_t(e)];
    if (et.rows.empty()) continue;
    const int64_t n = int64_t(et.rows.size());
    std::vector<float> dy(size_t(n * H)), dx(size_t(n * H));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t t = et.rows[size_t(i)], slot = t * k + et.slots[size_t(i)];
      const float w = tape.selw[size_t(slot)];
      const float* d = dout + t * H;
      const float* yi = et.y.data() + i * H;
      double dot = 0;
      for (int64_t j = 0; j < H; ++j) {
        dy[size_t(i * H + j)] = w * d[j];
        dot += double(d[j]) * double(yi[j]);
      }
      dc[size_t(slot)] = dot;
    }
    const ExpertLinears& X = ctx.lin.experts[size_t(e)];
    mlp_backward(X.gate, X.up, X.down, et.xin.data(), n, et.g, et.u, et.a, dy.data(), dx.data());
    for (int64_t i = 0; i < n; ++i) add_into(dh + et.rows[size_t(i)] * H, dx.data() + i * H, H);
  }
  // Routing weights -> router softmax -> router logits -> the input.
  std::vector<float> dlogits(size_t(T * E), 0.0f);
  for (int64_t t = 0; t < T; ++t) {
    const float* p = tape.probs.data() + t * E;
    std::vector<double> dp(size_t(E), 0.0);
    if (c.norm_topk_prob) {  // w_j = p_j / S, S = sum of the chosen p
      double S = 0, cross = 0;
      for (int64_t j = 0; j < k; ++j) S += p[tape.sel[size_t(t * k + j)]];
      for (int64_t j = 0; j < k; ++j) cross += dc[size_t(t * k + j)] * p[tape.sel[size_t(t * k + j)]];
      for (int64_t j = 0; j < k; ++j) dp[size_t(tape.sel[size_t(t * k + j)])] = (dc[size_t(t * k + j)] - cross / S) / S;
    } else {
      for (int64_t j = 0; j < k; ++j) dp[size_t(tape.sel[size_t(t * k + j)])] = dc[size_t(t * k + j)];
    }
    double dot = 0;
    for (int64_t i = 0; i < E; ++i) dot += dp[size_t(i)] * p[i];
    for (int64_t i = 0; i < E; ++i) dlogits[size_t(t * E + i)] = float(p[i] * (dp[size_t(i)] - dot));
  }
  linear_backward(ctx.lin.router, nullptr, dlogits.data(), dh, T, true);
}

}  // namespace

size_t LayerTape::bytes() const {
  size_t n = x_in.size() + h1.size() + q_lin.size() + k_lin.size() + q.size() + k.size() + v.size() + attn.size() +
             x_mid.size() + h2.size() + g.size() + u.size() + a.size() + probs.size() + selw.size() + sel.size();
  for (const ExpertTape& e : experts) n += e.xin.size() + e.g.size() + e.u.size() + e.a.size() + e.y.size();
  return n * 4;
}

void rms_norm_backward(const float* x, const float* w, const float* dy, float* dx, int64_t T, int64_t n, float eps) {
#pragma omp parallel for schedule(static) if (T * n > 65536)
  for (int64_t t = 0; t < T; ++t) {
    const float* xr = x + t * n;
    const float* d = dy + t * n;
    double ss = 0, xwd = 0;
    for (int64_t i = 0; i < n; ++i) {
      ss += double(xr[i]) * double(xr[i]);
      xwd += double(xr[i]) * double(w[i]) * double(d[i]);
    }
    const double r = 1.0 / std::sqrt(ss / double(n) + double(eps));
    const double c = r * r * r * xwd / double(n);
    for (int64_t i = 0; i < n; ++i) dx[t * n + i] = float(r * double(w[i]) * double(d[i]) - double(xr[i]) * c);
  }
}

void attention_backward(const float* Q, const float* K, const float* V, const float* dO, float* dQ, float* dK, float* dV,
                        int64_t T, int64_t n_heads, int64_t n_kv_heads, int64_t hd) {
  const int64_t qd = n_heads * hd, kvd = n_kv_heads * hd, per_kv = n_heads / n_kv_heads;
  const float scale = 1.0f / std::sqrt(float(hd));
  std::fill(dK, dK + T * kvd, 0.0f);
  std::fill(dV, dV + T * kvd, 0.0f);
  // One task per KV head: its query heads add into its dK and dV in a fixed order.
#pragma omp parallel for schedule(dynamic)
  for (int64_t g = 0; g < n_kv_heads; ++g) {
    std::vector<float> P(size_t(T * T)), dP(size_t(T * T));
    const float* Kg = K + g * hd;
    const float* Vg = V + g * hd;
    for (int64_t h = g * per_kv; h < (g + 1) * per_kv; ++h) {
      const float* Qh = Q + h * hd;
      const float* dOh = dO + h * hd;
      gemm(false, true, T, T, hd, scale, Qh, qd, Kg, kvd, 0.0f, P.data(), T);
      for (int64_t i = 0; i < T; ++i) {  // causal softmax of row i over columns 0..i
        float* p = P.data() + i * T;
        float mx = p[0];
        for (int64_t j = 1; j <= i; ++j) mx = std::max(mx, p[j]);
        double s = 0;
        for (int64_t j = 0; j <= i; ++j) {
          p[j] = std::exp(p[j] - mx);
          s += p[j];
        }
        const float inv = float(1.0 / s);
        for (int64_t j = 0; j <= i; ++j) p[j] *= inv;
        for (int64_t j = i + 1; j < T; ++j) p[j] = 0.0f;
      }
      gemm(false, true, T, T, hd, 1.0f, dOh, qd, Vg, kvd, 0.0f, dP.data(), T);
      for (int64_t i = 0; i < T; ++i) {  // dS = P * (dP - rowsum(P * dP)), in place in dP
        const float* p = P.data() + i * T;
        float* d = dP.data() + i * T;
        double dot = 0;
        for (int64_t j = 0; j <= i; ++j) dot += double(p[j]) * double(d[j]);
        for (int64_t j = 0; j <= i; ++j) d[j] = p[j] * float(double(d[j]) - dot);
        for (int64_t j = i + 1; j < T; ++j) d[j] = 0.0f;
      }
      gemm(false, false, T, hd, T, scale, dP.data(), T, Kg, kvd, 0.0f, dQ + h * hd, qd);
      gemm(true, false, T, hd, T, scale, dP.data(), T, Qh, qd, 1.0f, dK + g * hd, kvd);
      gemm(true, false, T, hd, T, 1.0f, P.data(), T, dOh, qd, 1.0f, dV + g * hd, kvd);
    }
  }
}

void layer_forward(const LayerContext& ctx, int l, float* X, int64_t T, LayerTape& tape) {
  const ModelConfig& c = ctx.cfg;
  const LayerWeights& F = ctx.fixed;
  const int64_t H = c.hidden, qd = c.q_dim(), kvd = c.kv_dim(), hd = c.head_dim;
  const float eps = float(c.rms_eps);
  tape.T = T;
  tape.x_in.assign(X, X + T * H);
  tape.h1.resize(size_t(T * H));
  ops::rms_norm(X, F.attn_norm.data.data(), tape.h1.data(), T, H, eps);
  tape.q_lin.resize(size_t(T * qd));
  tape.k_lin.resize(size_t(T * kvd));
  tape.v.resize(size_t(T * kvd));
  linear_forward(ctx.lin.q, F.bq, tape.h1.data(), tape.q_lin.data(), T);
  linear_forward(ctx.lin.k, F.bk, tape.h1.data(), tape.k_lin.data(), T);
  linear_forward(ctx.lin.v, F.bv, tape.h1.data(), tape.v.data(), T);
  tape.q = tape.q_lin;
  tape.k = tape.k_lin;
  if (c.qk_norm) {
    ops::rms_norm(tape.q_lin.data(), F.q_norm.data.data(), tape.q.data(), T * c.n_heads, hd, eps);
    ops::rms_norm(tape.k_lin.data(), F.k_norm.data.data(), tape.k.data(), T * c.n_kv_heads, hd, eps);
  }
  ctx.rope.apply(tape.q.data(), T, c.n_heads, 0);
  ctx.rope.apply(tape.k.data(), T, c.n_kv_heads, 0);
  tape.attn.resize(size_t(T * qd));
  kernels::causal_attention(tape.q.data(), tape.k.data(), tape.v.data(), tape.attn.data(), T, 0, c.n_heads, c.n_kv_heads,
                            hd);
  std::vector<float> o(size_t(T * H));
  linear_forward(ctx.lin.o, F.bo, tape.attn.data(), o.data(), T);
  add_into(X, o.data(), T * H);
  tape.x_mid.assign(X, X + T * H);
  tape.h2.resize(size_t(T * H));
  ops::rms_norm(X, F.ffn_norm.data.data(), tape.h2.data(), T, H, eps);
  if (c.layer_is_moe(l)) moe_forward(ctx, tape.h2.data(), T, tape, o.data());
  else mlp_forward(ctx.lin.gate, ctx.lin.up, ctx.lin.down, tape.h2.data(), T, tape.g, tape.u, tape.a, o.data());
  add_into(X, o.data(), T * H);
}

void layer_backward(const LayerContext& ctx, int l, const LayerTape& tape, float* dX) {
  const ModelConfig& c = ctx.cfg;
  const LayerWeights& F = ctx.fixed;
  const int64_t T = tape.T, H = c.hidden, qd = c.q_dim(), kvd = c.kv_dim(), hd = c.head_dim;
  const float eps = float(c.rms_eps);
  // MLP branch: X_out = x_mid + mlp(norm(x_mid)).
  std::vector<float> dh(size_t(T * H)), dnorm(size_t(T * H));
  if (c.layer_is_moe(l)) moe_backward(ctx, tape, dX, dh.data());
  else mlp_backward(ctx.lin.gate, ctx.lin.up, ctx.lin.down, tape.h2.data(), T, tape.g, tape.u, tape.a, dX, dh.data());
  rms_norm_backward(tape.x_mid.data(), F.ffn_norm.data.data(), dh.data(), dnorm.data(), T, H, eps);
  add_into(dX, dnorm.data(), T * H);  // dX is now d x_mid
  // Attention branch: x_mid = x_in + o(attn(norm(x_in))).
  std::vector<float> dattn(size_t(T * qd));
  linear_backward(ctx.lin.o, tape.attn.data(), dX, dattn.data(), T, false);
  std::vector<float> dq(size_t(T * qd)), dk(size_t(T * kvd)), dv(size_t(T * kvd));
  attention_backward(tape.q.data(), tape.k.data(), tape.v.data(), dattn.data(), dq.data(), dk.data(), dv.data(), T,
                     c.n_heads, c.n_kv_heads, hd);
  ctx.rope.apply_inverse(dq.data(), T, c.n_heads, 0);
  ctx.rope.apply_inverse(dk.data(), T, c.n_kv_heads, 0);
  if (c.qk_norm) {
    std::vector<float> t(dq.size());
    rms_norm_backward(tape.q_lin.data(), F.q_norm.data.data(), dq.data(), t.data(), T * c.n_heads, hd, eps);
    dq.swap(t);
    t.resize(dk.size());
    rms_norm_backward(tape.k_lin.data(), F.k_norm.data.data(), dk.data(), t.data(), T * c.n_kv_heads, hd, eps);
    dk.swap(t);
  }
  linear_backward(ctx.lin.q, tape.h1.data(), dq.data(), dh.data(), T, false);
  linear_backward(ctx.lin.k, tape.h1.data(), dk.data(), dh.data(), T, true);
  linear_backward(ctx.lin.v, tape.h1.data(), dv.data(), dh.data(), T, true);
  rms_norm_backward(tape.x_in.data(), F.attn_norm.data.data(), dh.data(), dnorm.data(), T, H, eps);
  add_into(dX, dnorm.data(), T * H);
}

}  // namespace llmq::dwq
