// GGUF export throughput: small-llama (bf16 safetensors) -> Q4_K_M GGUF,
// end to end (read, convert, permute, quantize, write, rename), in seconds
// and MB/s of checkpoint tensor data (best of a few runs: the first also
// pays for reading the checkpoint from disk).
//
//   build/bench_quantize_gguf [repeats=3] [preset=Q4_K_M] [model=../shared/models/small-llama]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "runtime/process_setup.h"
#include "export/gguf/gguf_exporter.h"
#include "model/ops.h"

using namespace llmq;
using clk = std::chrono::steady_clock;

int main(int argc, char** argv) {
  llmq::restart_with_tuned_math_libraries(argv);
  const int repeats = argc > 1 ? std::stoi(argv[1]) : 3;
  const auto preset = preset_from_name(argc > 2 ? argv[2] : "Q4_K_M");
  const std::string dir = argc > 3 ? argv[3] : std::string(LLMQ_SHARED_DIR) + "/models/small-llama";
  if (!preset) {
    std::fprintf(stderr, "unknown preset; one of %s\n", preset_names().c_str());
    return 2;
  }
  ops::set_num_threads(0);
  const std::string out = (std::filesystem::temp_directory_path() / "bench_quantize_gguf.gguf").string();

  GgufExportOptions opt;
  opt.quant.preset = *preset;
  opt.output = out;
  double best = 1e300, total = 0;
  GgufExportResult r;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = clk::now();
    r = export_gguf(dir, opt);
    const double s = std::chrono::duration<double>(clk::now() - t0).count();
    best = std::min(best, s);
    total += s;
  }
  std::filesystem::remove(out);
  const double mb = double(r.source_bytes) / 1e6;
  std::printf("model           %s\n", dir.c_str());
  std::printf("preset          %s\n", preset_info(*preset).name);
  std::printf("threads         %d\n", ops::num_threads());
  std::printf("checkpoint      %.2f MB of tensors, %lld parameters\n", mb, (long long)r.n_elements);
  std::printf("output          %.2f MB (%.3f bits/weight)\n", double(r.file_bytes) / 1e6, r.bpw());
  std::printf("export          best %.3f s, mean %.3f s over %d runs\n", best, total / repeats, repeats);
  std::printf("throughput      %.1f MB/s of checkpoint, %.1f Mparams/s\n", mb / best, double(r.n_elements) / 1e6 / best);
  return 0;
}
