// Calibration-pass throughput on small-llama (tokens per second): the bare
// decoder layers, then with the importance matrix, with every analyze
// collector, and with Gram matrices, so each collector's overhead is the
// difference of numbers measured in one run.
//
//   [LLMQ_THREADS=n] build/bench_analyze [--benchmark_filter=...]
// Compare with llama.cpp on the same text:
//   llama-imatrix -m small-llama-f32.gguf -f calibration.txt -c 512 --chunks 8 --no-ppl
#include <cstdlib>
#include <memory>

#include <benchmark/benchmark.h>

#include "bench_main.h"

#include "calibration/calibration_data.h"
#include "calibration/calibration_pass.h"
#include "calibration/gram_collector.h"
#include "calibration/importance_collector.h"
#include "calibration/super_weight_collector.h"
#include "model/model_loader.h"
#include "model/ops.h"
#include "tokenizer/tokenizer.h"

using namespace llmq;

namespace {

constexpr int64_t kCtx = 512, kWindows = 4;

struct Fixture {
  LoadedModel m;
  std::unique_ptr<Transformer> model;
  CalibrationWindows windows;
  Fixture() : m(load_model(std::string(LLMQ_SHARED_DIR) + "/models/small-llama")) {
    const char* threads = std::getenv("LLMQ_THREADS");  // default: all cores
    ops::set_num_threads(threads ? std::atoi(threads) : 0);
    model = std::make_unique<Transformer>(m.weights);
    const CalibrationText text = read_calibration_text(std::string(LLMQ_SHARED_DIR) + "/data/calibration.txt");
    windows = select_windows(m.tokenizer->encode(text.text.substr(0, 200000), false), {kWindows, kCtx, 0});
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void run(benchmark::State& state, const std::vector<Collector*>& collectors) {
  Fixture& f = fixture();
  for (auto _ : state) {
    CalibrationPass pass(*f.model);
    for (Collector* c : collectors) pass.add(*c);
    pass.run(f.windows.windows);
  }
  state.counters["tokens_per_second"] =
      benchmark::Counter(double(f.windows.tokens()) * double(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_DecoderOnly(benchmark::State& state) { run(state, {}); }

void BM_ImportanceMatrix(benchmark::State& state) {
  ImportanceCollector imp;
  run(state, {&imp});
}

void BM_AnalyzeWithSuperWeights(benchmark::State& state) {
  ImportanceCollector imp;
  SuperWeightCollector spikes;
  run(state, {&imp, &spikes});
}

void BM_GramAllSlots(benchmark::State& state) {
  GramCollector gram;
  run(state, {&gram});
}

}  // namespace

BENCHMARK(BM_DecoderOnly)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ImportanceMatrix)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_AnalyzeWithSuperWeights)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GramAllSlots)->Unit(benchmark::kMillisecond)->UseRealTime();
LLMQ_BENCHMARK_MAIN()
