#include "model/ops.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <thread>

namespace llmq::ops {

void linear(const float* X, const float* W, const float* bias, float* Y, int64_t T, int64_t in, int64_t out) {
  if (T == 1) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, int(out), int(in), 1.0f, W, int(in), X, 1, 0.0f, Y, 1);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(T), int(out), int(in), 1.0f, X, int(in), W, int(in), 0.0f,
                Y, int(out));
  }
  if (bias) {
#pragma omp parallel for schedule(static) if (T * out > 65536)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t o = 0; o < out; ++o) Y[t * out + o] += bias[o];
  }
}

void rms_norm(const float* x, const float* w, float* y, int64_t T, int64_t n, float eps) {
#pragma omp parallel for schedule(static) if (T * n > 65536)
  for (int64_t t = 0; t < T; ++t) {
    const float* xr = x + t * n;
    float* yr = y + t * n;
    double ss = 0.0;
    for (int64_t i = 0; i < n; ++i) ss += double(xr[i]) * double(xr[i]);
    const float inv = 1.0f / std::sqrt(float(ss / double(n)) + eps);
    for (int64_t i = 0; i < n; ++i) yr[i] = (xr[i] * inv) * w[i];
  }
}

void swiglu(const float* g, const float* u, float* a, int64_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) a[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

void softmax(float* x, int64_t n) {
  float mx = x[0];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, x[i]);
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    s += x[i];
  }
  const float inv = float(1.0 / s);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

static int g_threads = 0;

void set_num_threads(int n) {
  if (n <= 0) n = int(std::max(1u, std::thread::hardware_concurrency()));
  g_threads = n;
  openblas_set_num_threads(n);
  omp_set_num_threads(n);
}

int num_threads() { return g_threads > 0 ? g_threads : int(std::max(1u, std::thread::hardware_concurrency())); }

}  // namespace llmq::ops
