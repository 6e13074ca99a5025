#include "model/ops.h"

#include "runtime/deterministic_gemm.h"

#include "util/address_space.h"

#include "quant/formats/ggml/ggml_quants.h"
#include "quant/formats/ggml/kquant_blocks.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <thread>
#include <vector>

namespace llmq::ops {

// Y[t, :] += bias for every row (no-op without a bias).
static void add_bias(float* Y, const float* bias, int64_t T, int64_t out) {
  if (!bias) return;
#pragma omp parallel for schedule(static) if (T * out > 65536)
  for (int64_t t = 0; t < T; ++t)
    for (int64_t o = 0; o < out; ++o) Y[t * out + o] += bias[o];
}

void linear(const float* X, const float* W, const float* bias, float* Y, int64_t T, int64_t in, int64_t out) {
  runtime::gemm(false, true, T, out, in, 1.0f, X, in, W, in, 0.0f, Y, out);  // one token too: the same bits on any thread count
  add_bias(Y, bias, T, out);
}

// Rows per tile of a lazy weight: about 4 MB of fp32, a multiple of 16.
static int64_t tile_rows(int64_t in) { return std::max<int64_t>(16, ((int64_t(1) << 20) / std::max<int64_t>(in, 1)) / 16 * 16); }

// Decode and small batches: below this many tokens a weight is read once,
// a block of rows per thread, each block converted into a buffer the thread
// keeps in its cache and multiplied there. A BLAS call would instead convert
// a 4 MB tile on one thread and stream it back from memory.
constexpr int64_t kFewTokens = 8;

// Y[T, out] = X[T, in] * W^T for a lazy W and T < kFewTokens, in parallel over blocks of W's rows.
static void linear_few_tokens(const float* X, const Tensor& W, float* Y, int64_t T) {
  const int64_t in = W.cols(), out = W.rows();
  const RowSource& src = *W.rows_source;
  ActivationRows act{X, nullptr, T, in};
  thread_local std::vector<ggml::kquant::BlockQ8K> q8;
  if (src.dots_with_q8k() && in % 256 == 0) {  // quantized once here, read by every block of rows
    q8.resize(size_t(T * in / 256));
    for (int64_t t = 0; t < T; ++t) ggml::quantize_row_q8_K(X + t * in, q8.data() + t * in / 256, in, nullptr);
    act.q8k = q8.data();
  }
  // Rows per block: at least 8 and about 64 KB of fp32 where a source
  // converts into a buffer (it stays in L2 while it is used), and at least
  // 4 blocks per thread so that threads finish together.
  const int64_t by_cache = std::max<int64_t>(8, (int64_t(16) << 10) / std::max<int64_t>(in, 1));
  const int64_t by_threads = std::max<int64_t>(1, out / (4 * int64_t(num_threads())));
  const int64_t block = std::min(by_cache, by_threads);
  const int64_t n_blocks = (out + block - 1) / block;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t ib = 0; ib < n_blocks; ++ib) {
    const int64_t r0 = ib * block;
    src.dot_rows(r0, std::min(block, out - r0), act, Y + r0, out);
  }
}

void linear(const float* X, const Tensor& W, const Tensor& bias, float* Y, int64_t T) {
  const int64_t in = W.cols(), out = W.rows();
  const float* b = bias.empty() ? nullptr : bias.data.data();
  if (!W.lazy()) return linear(X, W.data.data(), b, Y, T, in, out);
  if (T < kFewTokens) {
    linear_few_tokens(X, W, Y, T);
    return add_bias(Y, b, T, out);
  }
  const int64_t tile = std::min(out, tile_rows(in));
  thread_local std::vector<float> buf;
  buf.resize(size_t(tile * in));
  for (int64_t r0 = 0; r0 < out; r0 += tile) {
    const int64_t n = std::min(tile, out - r0);
    W.read_rows(r0, n, buf.data());
    // Y[:, r0:r0+n] = X * tile^T, written in place through the leading dimension.
    runtime::gemm(false, true, T, n, in, 1.0f, X, in, buf.data(), in, 0.0f, Y + r0, out);
  }
  add_bias(Y, b, T, out);
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

// Address space a compute thread takes: OpenBLAS's buffer (128 MB, reserved
// for every thread when the count is set; under a too-low ulimit -v OpenBLAS
// retries the reservation forever), its stack and a malloc arena; plus room
// kept for the work itself.
constexpr uint64_t kThreadAddressSpace = uint64_t(128 + 8 + 64) << 20;
constexpr uint64_t kWorkAddressSpace = uint64_t(256) << 20;

int set_num_threads(int n) {
  if (n <= 0) n = int(std::max(1u, std::thread::hardware_concurrency()));
  if (const std::optional<uint64_t> left = address_space_left()) {
    const uint64_t fit = *left > kWorkAddressSpace ? (*left - kWorkAddressSpace) / kThreadAddressSpace : 0;
    n = int(std::clamp<uint64_t>(fit, 1, uint64_t(n)));
  }
  g_threads = n;
  openblas_set_num_threads(n);
  omp_set_num_threads(n);
  return n;
}

int num_threads() { return g_threads > 0 ? g_threads : int(std::max(1u, std::thread::hardware_concurrency())); }

}  // namespace llmq::ops
