// Time of `quality compare` on small-llama with three quantized files
// (Q8_0, Q4_K_M, Q2_K GGUFs written to a temporary directory first, or the
// files given): the base run that saves its logits, then each file loaded
// and compared. Beside it, a plain perplexity run over the same windows,
// so the cost of the comparison on top of the forward pass is visible.
//
//   build/bench_quality_compare [windows=8] [model=../shared/models/small-llama] [file.gguf ...]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "runtime/process_setup.h"
#include "eval/logit_store.h"
#include "eval/perplexity.h"
#include "eval/quality_eval.h"
#include "export/gguf/gguf_exporter.h"
#include "export/gguf/gguf_model_loader.h"
#include "export/gguf/gguf_presets.h"
#include "model/model_loader.h"
#include "model/ops.h"
#include "tokenizer/tokenizer.h"

using namespace llmq;
namespace fs = std::filesystem;
using clk = std::chrono::steady_clock;

static double since(clk::time_point t0) { return std::chrono::duration<double>(clk::now() - t0).count(); }

static std::string read_all(const std::string& path) {
  std::string text;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return text;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  std::fclose(f);
  return text;
}

int main(int argc, char** argv) {
  llmq::restart_with_tuned_math_libraries(argv);
  const int64_t windows = argc > 1 ? std::stoll(argv[1]) : 8;
  const std::string dir = argc > 2 ? argv[2] : std::string(LLMQ_SHARED_DIR) + "/models/small-llama";
  std::vector<std::string> files(argv + std::min(argc, 3), argv + argc);
  ops::set_num_threads(0);
  register_gguf_model_loader();

  const fs::path tmp = fs::temp_directory_path() / ("llmq-bench-quality-" + std::to_string(::getpid()));
  if (files.empty()) {
    fs::create_directories(tmp);
    for (GgufPreset p : {GgufPreset::Q8_0, GgufPreset::Q4_K_M, GgufPreset::Q2_K}) {
      GgufExportOptions o;
      o.quant.preset = p;
      o.output = (tmp / (std::string("small-llama-") + preset_info(p).name + ".gguf")).string();
      const auto t0 = clk::now();
      const GgufExportResult r = export_gguf(dir, o);
      std::printf("export           %s %.2f bpw in %.1f s\n", o.output.c_str(), r.bpw(), since(t0));
      files.push_back(o.output);
    }
  }

  LoadedModel base = load_model(dir);
  const std::vector<int32_t> tokens =
      base.tokenizer->encode(read_all(std::string(LLMQ_SHARED_DIR) + "/data/wikitext2_test.txt"));
  const WindowPlan plan = plan_windows(int64_t(tokens.size()), 512, windows);
  Transformer base_model(base.weights);

  auto t0 = clk::now();
  PerplexityOptions po;
  po.chunks = windows;
  const PerplexityResult pr = perplexity(base_model, tokens, po);
  const double t_ppl = since(t0);

  t0 = clk::now();
  const BaseLogits logits = compute_base_logits(base_model, tokens, plan, {{"model", dir}});
  const double t_base = since(t0);

  double t_load = 0, t_eval = 0;
  t0 = clk::now();
  for (const std::string& f : files) {
    auto tl = clk::now();
    LoadedModel m = load_model(f);
    Transformer model(m.weights);
    t_load += since(tl);
    const QualityMetrics q = evaluate_quality(model, logits, {});
    t_eval += q.seconds;
    std::printf("compare          %-40s %-7s PPL %.4f (%+.2f%%)  KLD %.6f  top-1 %.2f%%  %.1f s\n",
                fs::path(f).filename().c_str(), m.dtype.c_str(), q.ppl, q.ppl_delta_pct, q.kld_mean,
                100 * q.top1_agreement, q.seconds);
  }
  const double t_files = since(t0);
  const double tok = double(plan.windows * plan.ctx);

  std::printf("model            %s (%.1f M params), %d threads\n", dir.c_str(), double(base.n_params) / 1e6,
              ops::num_threads());
  std::printf("windows          %lld of %lld tokens (%.0f tokens per model)\n", (long long)plan.windows,
              (long long)plan.ctx, tok);
  std::printf("perplexity only  %.2f s (%.0f tok/s), PPL %.4f\n", t_ppl, tok / t_ppl, pr.ppl);
  std::printf("base logits      %.2f s (%.0f tok/s; %.1f MiB of log-probs)\n", t_base, tok / t_base,
              double(plan.scored_tokens() * log_prob_record_bytes(base.weights->cfg.vocab)) / (1 << 20));
  std::printf("3 files          %.2f s: load %.2f s, evaluate %.2f s (%.0f tok/s per model)\n", t_files, t_load,
              t_eval, tok * double(files.size()) / t_eval);
  std::printf("compare total    %.2f s\n", t_base + t_files);
  std::printf("comparison cost  %.0f%% on top of the forward pass (evaluate vs perplexity per model)\n",
              100.0 * (t_eval / double(files.size()) / t_ppl - 1.0));
  std::error_code ec;
  fs::remove_all(tmp, ec);
  return 0;
}
