#include "dwq/backprop.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "dwq/layer_backprop.h"
#include "model/ops.h"
#include "runtime/deterministic_gemm.h"
#include "util/error.h"

namespace llmq::dwq {

double topk_kl(const float* z, int64_t vocab, const float* t_logits, const int32_t* t_ids, float t_lse, int64_t k,
               float temperature, float scale, float* dz) {
  const double inv_t = 1.0 / double(temperature);
  double zmax = z[0];
  for (int64_t j = 1; j < vocab; ++j) zmax = std::max(zmax, double(z[j]));
  double zs = 0;
  for (int64_t j = 0; j < vocab; ++j) zs += std::exp((double(z[j]) - zmax) * inv_t);
  const double lse = zmax * inv_t + std::log(zs);  // log sum exp(z / T)
  double kl = 0, p_top = 0, q_top = 0;
  for (int64_t i = 0; i < k; ++i) {
    const double logp = double(t_logits[i]) * inv_t - double(t_lse);
    const double logq = double(z[t_ids[i]]) * inv_t - lse;
    const double p = std::exp(logp);
    kl += p * (logp - logq);
    p_top += p;
    q_top += std::exp(logq);
  }
  // The rest of the vocabulary as one outcome. Rounding can leave p_top a hair above 1: no rest then.
  const double p_rest = std::max(0.0, 1.0 - p_top), q_rest = std::max(1e-300, 1.0 - q_top);
  if (p_rest > 0) kl += p_rest * (std::log(p_rest) - std::log(q_rest));
  if (dz) {
    // d/dz_j: (q_j - p_j) / T on the top-k; q_j (1 - p_rest / q_rest) / T elsewhere.
    const double c = double(scale) * inv_t, rest = 1.0 - p_rest / q_rest;
    for (int64_t j = 0; j < vocab; ++j) dz[j] = float(c * std::exp(double(z[j]) * inv_t - lse) * rest);
    for (int64_t i = 0; i < k; ++i) {
      const double q = std::exp(double(z[t_ids[i]]) * inv_t - lse);
      const double p = std::exp(double(t_logits[i]) * inv_t - double(t_lse));
      dz[t_ids[i]] = float(c * (q - p));
    }
  }
  return kl;
}

Backprop::Backprop(Student& s, size_t tape_budget_bytes) : s_(s), rope_(s.cfg()), tape_budget_(tape_budget_bytes) {
  const Tensor& out = s.weights().output();
  wout_.resize(size_t(out.rows() * out.cols()));
  out.read_rows(0, out.rows(), wout_.data());
}

double Backprop::loss(const int32_t* tokens, int64_t T, const SequenceTargets& targets, float temperature) {
  return run(tokens, T, targets, temperature, 0.0f, false);
}

double Backprop::loss_and_gradients(const int32_t* tokens, int64_t T, const SequenceTargets& targets, float temperature,
                                    float grad_scale) {
  return run(tokens, T, targets, temperature, grad_scale, true);
}

double Backprop::head(const float* X, int64_t T, const SequenceTargets& tg, float temperature, float grad_scale,
                      float* dX) {
  const ModelConfig& c = s_.cfg();
  const int64_t H = c.hidden, V = c.vocab;
  constexpr int64_t kRows = 64;  // logits of 64 positions at a time: 64 x vocab floats
  std::vector<float> h(size_t(kRows * H)), Z(size_t(kRows * V)), dZ, dh;
  if (dX) {
    dZ.resize(Z.size());
    dh.resize(h.size());
  }
  const float* norm = s_.weights().final_norm.data.data();
  double total = 0;
  for (int64_t t0 = 0; t0 < T; t0 += kRows) {
    const int64_t n = std::min(kRows, T - t0);
    ops::rms_norm(X + t0 * H, norm, h.data(), n, H, float(c.rms_eps));
    runtime::gemm(false, true, n, V, H, 1.0f, h.data(), H, wout_.data(), H, 0.0f, Z.data(), V);
    std::vector<double> row_kl(static_cast<size_t>(n));
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const int64_t t = t0 + i;
      row_kl[size_t(i)] = topk_kl(Z.data() + i * V, V, tg.logits + t * tg.k, tg.ids + t * tg.k, tg.lse[t], tg.k, temperature,
                                  grad_scale, dX ? dZ.data() + i * V : nullptr);
    }
    for (double v : row_kl) total += v;  // in position order: the same sum on any thread count
    if (!dX) continue;
    runtime::gemm(false, false, n, H, V, 1.0f, dZ.data(), V, wout_.data(), H, 0.0f, dh.data(), H);
    rms_norm_backward(X + t0 * H, norm, dh.data(), dX + t0 * H, n, H, float(c.rms_eps));
  }
  return total;
}

double Backprop::run(const int32_t* tokens, int64_t T, const SequenceTargets& targets, float temperature,
                     float grad_scale, bool gradients) {
  const ModelConfig& c = s_.cfg();
  const int64_t H = c.hidden;
  std::vector<float> X(size_t(T * H));
  for (int64_t t = 0; t < T; ++t) {
    if (tokens[t] < 0 || tokens[t] >= c.vocab) fail("token id {} is outside the vocabulary (0..{})", tokens[t], c.vocab - 1);
    s_.weights().embed.read_rows(tokens[t], 1, X.data() + t * H);
  }
  std::vector<std::optional<LayerTape>> tapes(size_t(c.n_layers));
  std::vector<std::vector<float>> inputs(size_t(c.n_layers));
  size_t kept = 0;
  for (int l = 0; l < c.n_layers; ++l) {
    LayerLinears lin = layer_linears(s_, l);
    LayerTape tape;
    layer_forward({c, s_.weights().layers[size_t(l)], lin, rope_}, l, X.data(), T, tape);
    if (!gradients) continue;
    if (kept + tape.bytes() <= tape_budget_) {
      kept += tape.bytes();
      tapes[size_t(l)] = std::move(tape);
    } else {
      inputs[size_t(l)] = std::move(tape.x_in);
    }
  }
  if (!gradients) return head(X.data(), T, targets, temperature, 0.0f, nullptr);
  std::vector<float> dX(X.size());
  const double loss = head(X.data(), T, targets, temperature, grad_scale, dX.data());
  for (int l = c.n_layers - 1; l >= 0; --l) {
    LayerLinears lin = layer_linears(s_, l);
    const LayerContext ctx{c, s_.weights().layers[size_t(l)], lin, rope_};
    if (!tapes[size_t(l)]) {  // run the layer again from its input to rebuild the tape
      LayerTape tape;
      std::vector<float> x = std::move(inputs[size_t(l)]);
      layer_forward(ctx, l, x.data(), T, tape);
      tapes[size_t(l)] = std::move(tape);
    }
    layer_backward(ctx, l, *tapes[size_t(l)], dX.data());
    tapes[size_t(l)].reset();
  }
  return loss;
}

}  // namespace llmq::dwq
