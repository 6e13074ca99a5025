// Perplexity throughput on small-llama (tokens per second), next to the
// machine's measured sgemm peak in the same run, so the fraction of peak the
// forward pass reaches is a ratio of two numbers measured together.
//
//   build/bench_perplexity [chunks=10] [model=../shared/models/small-llama]
#include <cblas.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "runtime/process_setup.h"
#include "eval/perplexity.h"
#include "model/model_loader.h"
#include "model/ops.h"
#include "tokenizer/tokenizer.h"

using namespace llmq;
using clk = std::chrono::steady_clock;

static double sgemm_peak_gflops(int n) {
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1, a.data(), n, b.data(), n, 0, c.data(), n);
  double best = 0;
  for (int r = 0; r < 3; ++r) {
    auto t0 = clk::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1, a.data(), n, b.data(), n, 0, c.data(), n);
    double s = std::chrono::duration<double>(clk::now() - t0).count();
    best = std::max(best, 2.0 * n * n * double(n) / s / 1e9);
  }
  return best;
}

int main(int argc, char** argv) {
  llmq::restart_with_tuned_math_libraries(argv);
  const int chunks = argc > 1 ? std::stoi(argv[1]) : 10;
  const std::string dir = argc > 2 ? argv[2] : std::string(LLMQ_SHARED_DIR) + "/models/small-llama";
  ops::set_num_threads(0);
  LoadedModel m = load_model(dir);
  Transformer model(m.weights);
  std::string text;
  {
    FILE* f = std::fopen((std::string(LLMQ_SHARED_DIR) + "/data/wikitext2_test.txt").c_str(), "rb");
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fclose(f);
  }
  auto t0 = clk::now();
  std::vector<int32_t> tokens = m.tokenizer->encode(text);
  double tok_s = std::chrono::duration<double>(clk::now() - t0).count();

  PerplexityOptions o;
  o.chunks = chunks;
  PerplexityResult r = perplexity(model, tokens, o);

  const ModelConfig& c = m.weights->cfg;
  // FLOPs per token of the matmuls: 2 x (linear weights touched per token) + attention (QK^T and PV, causal avg ctx/2)
  // + the output head for the scored half.
  double linear = 0;
  for (const NamedTensor& nt : named_tensors(*m.weights))
    if (is_linear_weight(nt.role)) linear += double(nt.tensor->numel());
  if (c.is_moe()) linear = linear;  // all experts counted; tiny MoE models are not what this bench is for
  const double attn = 2.0 * 2.0 * double(c.n_layers) * double(c.q_dim()) * (o.ctx / 2.0);
  const double headf = 2.0 * double(c.vocab) * double(c.hidden) * 0.5;
  const double flop_per_token = 2.0 * linear + attn + headf;
  const double achieved = flop_per_token * r.tokens_per_second / 1e9;
  const double peak = sgemm_peak_gflops(2048);
  std::printf("model            %s (%.1f M params)\n", dir.c_str(), double(m.n_params) / 1e6);
  std::printf("threads          %d\n", ops::num_threads());
  std::printf("tokenize         %.2f s for %zu tokens (%.0f tok/s)\n", tok_s, tokens.size(), double(tokens.size()) / tok_s);
  std::printf("perplexity       %.4f over %lld chunks of %lld\n", r.ppl, (long long)r.chunks, (long long)o.ctx);
  std::printf("throughput       %.0f tokens/s (%.2f s)\n", r.tokens_per_second, r.seconds);
  std::printf("forward GFLOP/s  %.1f (%.2f GFLOP per token)\n", achieved, flop_per_token / 1e9);
  std::printf("sgemm peak       %.1f GFLOP/s (2048^3, same run)\n", peak);
  std::printf("fraction of peak %.2f\n", achieved / peak);
  return 0;
}
