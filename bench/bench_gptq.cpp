// GPTQ timing: the per-matrix solver on small-llama's widest linear shapes, and
// a whole sequential GPTQ / AWQ run of small-llama on a few calibration windows.
#include <random>

#include <benchmark/benchmark.h>

#include "calibration/calibration_data.h"
#include "export/hf/model_quantizer.h"
#include "model/model_loader.h"
#include "quant/methods/gptq.h"
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
  return select_windows(m.tokenizer->encode(text.text.substr(0, 200000), false), {n, ctx, 1}).windows;
}

// One linear [out, in] with a Hessian from random correlated inputs.
void BM_GptqMatrix(benchmark::State& st) {
  const int64_t out = st.range(0), in = st.range(1);
  std::mt19937 g(1);
  std::normal_distribution<float> nd(0, 1);
  Tensor w;
  w.resize({out, in});
  for (float& v : w.data) v = 0.02f * nd(g);
  const int64_t T = 2 * in;
  std::vector<double> x(size_t(T * in)), h(size_t(in * in), 0.0);
  for (double& v : x) v = nd(g);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < in; ++i)
      for (int64_t j = 0; j < in; ++j) h[size_t(i * in + j)] += x[size_t(t * in + i)] * x[size_t(t * in + j)];
  IntQuantSpec s;
  GptqOptions o;
  o.desc_act = st.range(2) != 0;
  for (auto _ : st) benchmark::DoNotOptimize(gptq_quantize(w, h, s, o));
  st.SetItemsProcessed(st.iterations() * out * in);
}
BENCHMARK(BM_GptqMatrix)->Args({512, 512, 0})->Args({1536, 512, 0})->Args({512, 1536, 0})->Args({512, 1536, 1})
    ->Unit(benchmark::kMillisecond);

void BM_RtnMatrix(benchmark::State& st) {
  Tensor w;
  w.resize({st.range(0), st.range(1)});
  std::mt19937 g(2);
  std::normal_distribution<float> nd(0, 0.02f);
  for (float& v : w.data) v = nd(g);
  IntQuantSpec s;
  for (auto _ : st) benchmark::DoNotOptimize(quantize_rtn(w, s));
  st.SetItemsProcessed(st.iterations() * w.numel());
}
BENCHMARK(BM_RtnMatrix)->Args({1536, 512})->Unit(benchmark::kMillisecond);

// Whole model: small-llama (8 layers, 33.6 M params), 16 windows of 256 tokens.
void BM_ModelQuantize(benchmark::State& st) {
  const auto w = windows(16, 256);
  IntQuantizeOptions o;
  o.method = st.range(0) == 0 ? IntQuantMethod::Gptq : IntQuantMethod::Awq;
  for (auto _ : st) benchmark::DoNotOptimize(quantize_model_int(*small_llama().weights, w, o));
  st.SetLabel(int_quant_method_name(o.method));
}
BENCHMARK(BM_ModelQuantize)->Arg(0)->Arg(1)->Unit(benchmark::kSecond)->Iterations(1);

}  // namespace
BENCHMARK_MAIN();
