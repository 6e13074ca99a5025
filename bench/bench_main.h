#pragma once
// main() of the Google Benchmark programs: restart with tuned math libraries
// (as the CLI does), then run the registered benchmarks.
#include <benchmark/benchmark.h>

#include "runtime/process_setup.h"

#define LLMQ_BENCHMARK_MAIN()                        \
  int main(int argc, char** argv) {                  \
    llmq::restart_with_tuned_math_libraries(argv);   \
    benchmark::Initialize(&argc, argv);              \
    benchmark::RunSpecifiedBenchmarks();             \
    benchmark::Shutdown();                           \
    return 0;                                        \
  }
