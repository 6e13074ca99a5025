// GPTQ timing, for the per-layer cost on small-llama and its scaling to 7B.
//
// GPTQ's cost per linear input of width d_in with n calibration tokens:
//   Hessian        n * d_in^2          (BM_Gram: dsyrk over the tokens)
//   its inverse    d_in^3              (Cholesky, inverse, Cholesky: BM_HessianInverse)
//   updates        d_out * d_in^2      (lazy batch updates: BM_GptqMatrix minus the inverse)
// plus the layer's forward passes (n * params * 2 per pass; true-sequential
// runs each layer once per stage and once more to advance).
// BM_ModelQuantize times a whole sequential run and reports seconds per layer.
#include <chrono>
#include <random>

#include <benchmark/benchmark.h>

#include "bench_main.h"

#include "calibration/calibration_data.h"
#include "calibration/gram_collector.h"
#include "export/hf/model_quantizer.h"
#include "model/model_loader.h"
#include "quant/methods/gptq.h"
#include "quant/methods/hessian_inverse.h"
#include "quant/methods/rtn.h"
#include "tokenizer/tokenizer.h"

namespace {

using namespace llmq;

const LoadedModel& small_llama() {
  static LoadedModel m = load_model(std::string(LLMQ_SHARED_DIR) + "/models/small-llama");
  return m;
}

std::vector<std::vector<int32_t>> windows(int64_t n, int64_t ctx) {
  const LoadedModel& m = small_llama();
  const CalibrationText text = read_calibration_text(std::string(LLMQ_SHARED_DIR) + "/data/calibration.txt");
  return select_windows(m.tokenizer->encode(text.text.substr(0, 400000), false), {n, ctx, 1}).windows;
}

// A Hessian of width `in` from random correlated inputs (2 * in tokens), through the same dsyrk as calibration.
std::vector<double> random_hessian(int64_t in, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> nd(0, 1);
  const int64_t T = 2 * in;
  std::vector<float> x(size_t(T * in));
  for (int64_t t = 0; t < T; ++t) {
    const float common = nd(g);
    for (int64_t i = 0; i < in; ++i) x[size_t(t * in + i)] = nd(g) + 0.5f * common;
  }
  GramCollector gram;
  gram.on_linear_input(0, LinearSlot::QKV, -1, x.data(), T, in);
  return gram.find({0, LinearSlot::QKV, -1})->matrix();
}

Tensor random_weight(int64_t out, int64_t in) {
  std::mt19937 g(1);
  std::normal_distribution<float> nd(0, 0.02f);
  Tensor w;
  w.resize({out, in});
  for (float& v : w.data) v = nd(g);
  return w;
}

// One linear [out, in]: the whole GPTQ solve (inverse + updates).
void BM_GptqMatrix(benchmark::State& st) {
  const int64_t out = st.range(0), in = st.range(1);
  const Tensor w = random_weight(out, in);
  const std::vector<double> h = random_hessian(in, 2);
  IntQuantSpec s;
  GptqOptions o;
  o.desc_act = st.range(2) != 0;
  for (auto _ : st) benchmark::DoNotOptimize(gptq_quantize(w, h, s, o));
  st.SetItemsProcessed(st.iterations() * out * in);
}
BENCHMARK(BM_GptqMatrix)
    ->Args({512, 512, 0})->Args({1536, 512, 0})->Args({512, 1536, 0})->Args({512, 1536, 1})
    ->Args({1024, 1024, 0})->Args({2048, 2048, 0})->Args({4096, 2048, 0})
    ->Unit(benchmark::kMillisecond)->MinTime(0.5);

// The d_in^3 part alone.
void BM_HessianInverse(benchmark::State& st) {
  const int64_t in = st.range(0);
  const std::vector<double> h = random_hessian(in, 3);
  for (auto _ : st) benchmark::DoNotOptimize(hessian_inverse_cholesky(h, in, 0.01));
}
BENCHMARK(BM_HessianInverse)->Arg(512)->Arg(1024)->Arg(1536)->Arg(2048)->Unit(benchmark::kMillisecond)->MinTime(0.5);

// The n * d_in^2 part: accumulating X^T X over 4096 tokens.
void BM_Gram(benchmark::State& st) {
  const int64_t in = st.range(0), T = 4096;
  std::vector<float> x(size_t(T * in), 0.5f);
  for (auto _ : st) {
    GramCollector gram;
    gram.on_linear_input(0, LinearSlot::QKV, -1, x.data(), T, in);
    benchmark::DoNotOptimize(gram.find({0, LinearSlot::QKV, -1}));
  }
  st.counters["tokens"] = double(T);
}
BENCHMARK(BM_Gram)->Arg(512)->Arg(1536)->Arg(2048)->Unit(benchmark::kMillisecond)->MinTime(0.5);

void BM_RtnMatrix(benchmark::State& st) {
  const Tensor w = random_weight(st.range(0), st.range(1));
  IntQuantSpec s;
  for (auto _ : st) benchmark::DoNotOptimize(quantize_rtn(w, s));
  st.SetItemsProcessed(st.iterations() * w.numel());
}
BENCHMARK(BM_RtnMatrix)->Args({1536, 512})->Unit(benchmark::kMillisecond);

// Whole model: small-llama (8 layers, hidden 512, ffn 1536), 32 windows of 512 tokens.
// Arg: 0 GPTQ, 1 AWQ. Reports seconds per layer (mean over layers) and in total.
void BM_ModelQuantize(benchmark::State& st) {
  const auto w = windows(32, 512);
  IntQuantizeOptions o;
  o.method = st.range(0) == 0 ? IntQuantMethod::Gptq : IntQuantMethod::Awq;
  std::vector<double> layer_s;
  for (auto _ : st) {
    layer_s.clear();
    auto t = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(quantize_model_int(*small_llama().weights, w, o, [&](int, int) {
      const auto now = std::chrono::steady_clock::now();
      layer_s.push_back(std::chrono::duration<double>(now - t).count());
      t = now;
    }));
  }
  double sum = 0, worst = 0;
  for (double s : layer_s) {
    sum += s;
    worst = std::max(worst, s);
  }
  st.counters["s_per_layer"] = layer_s.empty() ? 0.0 : sum / double(layer_s.size());
  st.counters["s_slowest_layer"] = worst;
  st.counters["tokens"] = double(w.size() * 512);
  st.SetLabel(int_quant_method_name(o.method));
}
BENCHMARK(BM_ModelQuantize)->Arg(0)->Arg(1)->Unit(benchmark::kSecond)->Iterations(1);

}  // namespace
LLMQ_BENCHMARK_MAIN()
