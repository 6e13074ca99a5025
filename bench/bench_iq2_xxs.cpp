// IQ2_XXS quantization of small-llama: our exporter against llama-quantize,
// measured in one run with the same importance matrix and thread count.
// llama-quantize reads a GGUF, so a BF16 GGUF of the model is written first
// (not timed); our side starts from the Hugging Face checkpoint, as a user's
// `llm-quantize quantize` does, so it also pays for reading and converting.
//
//   build/bench_iq2_xxs IMATRIX [llama-quantize=/work/llama.cpp-build/bin/llama-quantize]
//                       [model=../shared/models/small-llama] [threads=all]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "runtime/process_setup.h"
#include "calibration/imatrix_file.h"
#include "export/gguf/gguf_exporter.h"
#include "model/ops.h"

using namespace llmq;
namespace fs = std::filesystem;
using clk = std::chrono::steady_clock;

namespace {
double seconds_since(clk::time_point t0) { return std::chrono::duration<double>(clk::now() - t0).count(); }
}  // namespace

int main(int argc, char** argv) {
  llmq::restart_with_tuned_math_libraries(argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s IMATRIX [llama-quantize] [model] [threads]\n", argv[0]);
    return 2;
  }
  const std::string imatrix_path = argv[1];
  const std::string llama = argc > 2 ? argv[2] : "/work/llama.cpp-build/bin/llama-quantize";
  const std::string dir = argc > 3 ? argv[3] : std::string(LLMQ_SHARED_DIR) + "/models/small-llama";
  ops::set_num_threads(argc > 4 ? std::stoi(argv[4]) : 0);
  const int threads = ops::num_threads();
  const fs::path tmp = fs::temp_directory_path();
  const std::string ours = (tmp / "bench_iq2_xxs_ours.gguf").string(), theirs = (tmp / "bench_iq2_xxs_llama.gguf").string(),
                    bf16 = (tmp / "bench_iq2_xxs_bf16.gguf").string();

  auto imatrix = std::make_shared<ImatrixFile>(imatrix_path);
  GgufExportOptions opt;
  opt.quant.preset = GgufPreset::IQ2_XXS;
  opt.output = ours;
  opt.importance = [imatrix](const std::string& name, int expert) { return imatrix->importance(name, expert); };
  auto t0 = clk::now();
  const GgufExportResult r = export_gguf(dir, opt);
  const double ours_s = seconds_since(t0);

  double llama_s = -1;
  if (fs::exists(llama)) {
    GgufExportOptions f;
    f.quant.preset = GgufPreset::BF16;
    f.output = bf16;
    export_gguf(dir, f);
    const std::string cmd = "'" + llama + "' --imatrix '" + imatrix_path + "' '" + bf16 + "' '" + theirs +
                            "' IQ2_XXS " + std::to_string(threads) + " > /dev/null 2>&1";
    t0 = clk::now();
    const int rc = std::system(cmd.c_str());
    llama_s = seconds_since(t0);
    if (rc != 0) std::fprintf(stderr, "llama-quantize failed (%d): %s\n", rc, cmd.c_str());
  }
  std::printf("model           %s (%lld parameters)\n", dir.c_str(), (long long)r.n_elements);
  std::printf("threads         %d\n", threads);
  std::printf("ours            %.2f s, %.2f MB, %.3f bits/weight (from the HF checkpoint)\n", ours_s,
              double(r.file_bytes) / 1e6, r.bpw());
  if (llama_s >= 0)
    std::printf("llama-quantize  %.2f s, %.2f MB (from a BF16 GGUF)\n", llama_s, double(fs::file_size(theirs)) / 1e6);
  else
    std::printf("llama-quantize  not found at %s\n", llama.c_str());
  for (const std::string& p : {ours, theirs, bf16}) fs::remove(p);
  return 0;
}
