// llm-quantize quality perplexity MODEL --data FILE [--ctx 512] [--chunks N]
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "../cli_common.h"
#include "eval/perplexity.h"
#include "model/model_loader.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/progress.h"

namespace llmq::cli {

static std::string read_text_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw file_error(path, "cannot open data file");
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  if (s.empty()) throw file_error(path, "data file is empty");
  return s;
}

static void register_perplexity(CLI::App* quality) {
  auto* cmd = quality->add_subcommand("perplexity", "Perplexity on a text file (second half of each window scored)");
  auto opts = std::make_shared<CommonOptions>();
  struct Args {
    std::string model, data;
    int64_t ctx = 512, chunks = 200;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("model", a->model, "Model directory, .gguf file or Hugging Face id")->required()->transform(model_argument());
  cmd->add_option("-f,--data", a->data, "Text file to evaluate on")->required();
  cmd->add_option("-c,--ctx", a->ctx, "Window size in tokens")->capture_default_str()->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--chunks", a->chunks, "Number of windows (0 = all)")->capture_default_str()->check(CLI::NonNegativeNumber);
  add_common_options(cmd, *opts);
  cmd->callback([=] {
    apply_common_options(*opts);
    protect_run_inputs({a->model, a->data});
    const std::string text = read_text_file(a->data);
    LoadedModel m = load_model(a->model, {.lazy = true});
    if (a->ctx > m.weights->cfg.max_positions && !opts->quiet)
      std::fprintf(stderr, "warning: --ctx %lld exceeds the model's context length %lld (max_position_embeddings): "
                   "positions past it are extrapolated\n", (long long)a->ctx, (long long)m.weights->cfg.max_positions);
    Transformer model(m.weights);
    std::vector<int32_t> tokens = m.tokenizer->encode(text, false);
    PerplexityOptions po;
    po.ctx = a->ctx;
    po.chunks = a->chunks;
    const int64_t avail = available_chunks(int64_t(tokens.size()), a->ctx);
    if (avail == 0)
      throw file_error(a->data, fmt::format("has {} tokens, too few for one window of {} (+1)", tokens.size(), a->ctx));
    const int64_t n = a->chunks > 0 ? std::min(a->chunks, avail) : avail;
    if (a->chunks > avail && !opts->json())
      std::fprintf(stderr, "warning: %s has only %lld windows of %lld tokens; using all of them\n", a->data.c_str(),
                   (long long)avail, (long long)a->ctx);
    Progress bar("perplexity", size_t(n), true, "chunks");
    PerplexityResult r;
    try {
      r = perplexity(model, tokens, po, [&](int64_t, int64_t, double running) {
        bar.update(1, fmt::format("ppl {:.4f}", running));
      });
    } catch (const Error& e) {
      throw file_error(a->model, e.what());  // a non-finite result is the model's: name it
    }
    bar.finish();
    nlohmann::json j = {{"model", a->model}, {"data", a->data}, {"ctx", a->ctx}, {"chunks", r.chunks},
                        {"tokens_in_text", tokens.size()}, {"tokens_scored", r.tokens_scored},
                        {"perplexity", r.ppl}, {"perplexity_stderr", r.ppl_stderr}, {"mean_nll", r.mean_nll},
                        {"seconds", r.seconds}, {"tokens_per_second", r.tokens_per_second}};
    if (opts->json()) {
      print_json(j);
      return;
    }
    fmt::print("PPL = {:.4f} +/- {:.4f}  ({} chunks of {}, {} tokens scored, {:.1f} tok/s)\n", r.ppl, r.ppl_stderr,
               r.chunks, a->ctx, r.tokens_scored, r.tokens_per_second);
  });
}

void register_quality(CLI::App& app) {
  auto* q = app.add_subcommand("quality", "Measure model quality (perplexity, KL divergence, comparisons, task accuracy)");
  q->require_subcommand(1);
  register_perplexity(q);
  register_quality_report(q);
  register_quality_tasks(q);
}

}  // namespace llmq::cli
