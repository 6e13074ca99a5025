// llm-quantize quality report ORIGINAL QUANTIZED [options]
// llm-quantize quality compare ORIGINAL Q1 [Q2 ...] [options]
//
// Both run the original once over the text (or reuse its saved logits with
// --base-logits), then each quantized model, and report perplexity, its
// change, KL divergence, top-1 and top-p agreement, size and bits per weight.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "../cli_common.h"
#include "eval/logit_store.h"
#include "eval/perplexity.h"
#include "eval/quality_eval.h"
#include "eval/quality_gate.h"
#include "eval/quality_report.h"
#include "export/gguf/ggml_cpu_activations.h"
#include "io/model_locator.h"
#include "model/model_loader.h"
#include "tokenizer/tokenizer.h"
#include "util/output_guard.h"
#include "util/atomic_output.h"
#include "util/error.h"
#include "util/progress.h"

namespace llmq::cli {

namespace fs = std::filesystem;

namespace {

struct CompareArgs {
  std::string original;
  std::vector<std::string> quantized;
  std::string data, base_logits, plot, plot_metric = "both";
  int64_t ctx = 512, chunks = 200;
  double top_p = 0.9;
  double max_ppl_increase = 0, max_kld = 0;
  bool ggml_cpu_rounding = false;
  // Whether the user set these (CLI11 2.1 has no std::optional options).
  bool ctx_given = false, chunks_given = false, max_ppl_given = false, max_kld_given = false;
};

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw file_error(path, "cannot open data file");
  std::stringstream ss;
  ss << f.rdbuf();
  if (ss.str().empty()) throw file_error(path, "data file is empty");
  return ss.str();
}

void warn(const CommonOptions& opts, const std::string& msg) {
  if (!opts.quiet) std::fprintf(stderr, "warning: %s\n", msg.c_str());
}

nlohmann::json describe_base(const LoadedModel& m, const std::string& data) {
  return {{"model", m.path},     {"format", m.format},     {"dtype", m.dtype},
          {"file_bytes", m.file_bytes}, {"n_params", m.n_params}, {"data", data},
          {"created_by", "llm-quantize"}};
}

// --data given with an existing --base-logits file: the file's windows must
// be that text's (checked with the original's tokenizer where it is cheap to
// load, i.e. for a Hugging Face directory).
void check_same_text(const CompareArgs& a, const BaseLogits& b, const CommonOptions& opts) {
  if (!fs::is_directory(a.original)) {
    warn(opts, fmt::format("--data {} is not checked against the text of {}; its windows are used", a.data,
                           a.base_logits));
    return;
  }
  const std::vector<int32_t> tokens = Tokenizer::load(a.original)->encode(read_text(a.data), false);
  const std::span<const int32_t> saved = b.tokens();
  if (tokens.size() < saved.size() || !std::equal(saved.begin(), saved.end(), tokens.begin()))
    throw file_error(a.base_logits, fmt::format("was computed on other text than {}; delete it to recompute, or "
                                                "name another --base-logits file",
                                                a.data));
}

// The saved base logits to reuse, or the original run over --data now.
BaseLogits obtain_base_logits(const CompareArgs& a, const CommonOptions& opts) {
  if (!a.base_logits.empty() && fs::exists(a.base_logits)) {
    BaseLogits b = BaseLogits::open(a.base_logits);
    const WindowPlan& p = b.plan();
    if (a.ctx_given && a.ctx != p.ctx)
      throw file_error(a.base_logits, fmt::format("was computed with --ctx {} (asked for {}); delete it to recompute, "
                                                  "or name another --base-logits file",
                                                  p.ctx, a.ctx));
    if (a.chunks_given && a.chunks != 0 && a.chunks != p.windows)
      warn(opts, fmt::format("{} holds {} windows; --chunks {} is ignored", a.base_logits, p.windows, a.chunks));
    const std::string recorded = b.meta().value("model", "");
    std::error_code ec;
    if (!recorded.empty() && !fs::equivalent(recorded, a.original, ec))
      warn(opts, fmt::format("{} was computed from {}, not {}", a.base_logits, recorded, a.original));
    if (!a.data.empty()) check_same_text(a, b, opts);
    return b;
  }
  if (a.data.empty())
    fail("no text to evaluate on: pass --data FILE (or --base-logits FILE saved by an earlier run)");
  const std::string text = read_text(a.data);
  LoadedModel m = load_model(a.original, {.lazy = true});
  const std::vector<int32_t> tokens = m.tokenizer->encode(text, false);
  const int64_t avail = available_chunks(int64_t(tokens.size()), a.ctx);
  if (avail == 0)
    throw file_error(a.data, fmt::format("has {} tokens, too few for one window of {} (+1)", tokens.size(), a.ctx));
  const WindowPlan plan = plan_windows(int64_t(tokens.size()), a.ctx, a.chunks);
  if (a.chunks > avail)
    warn(opts, fmt::format("{} has only {} windows of {} tokens; using all of them", a.data, avail, a.ctx));

  Transformer model(m.weights);
  Progress bar("base logits", size_t(plan.windows), true, "windows");
  auto tick = [&](int64_t, int64_t) { bar.update(1); };
  const nlohmann::json meta = describe_base(m, a.data);
  if (a.base_logits.empty()) {
    BaseLogits b = compute_base_logits(model, tokens, plan, meta, tick);
    bar.finish();
    return b;
  }
  write_base_logits(a.base_logits, model, tokens, plan, meta, tick);
  bar.finish(fmt::format("saved {}", a.base_logits));
  return BaseLogits::open(a.base_logits);
}

QualityRow base_row(const CompareArgs& a, const BaseLogits& b, const QualityEvalOptions& eo) {
  QualityRow r;
  const nlohmann::json& meta = b.meta();
  r.path = a.original;
  r.format = meta.value("format", "");
  r.dtype = meta.value("dtype", "");
  r.file_bytes = meta.value("file_bytes", uint64_t(0));
  r.n_params = meta.value("n_params", int64_t(0));
  r.is_base = true;
  r.metrics = base_metrics(b, eo);
  return r;
}

QualityRow evaluate_file(const std::string& path, const BaseLogits& b, QualityEvalOptions eo, bool ggml_cpu) {
  LoadedModel m = load_model(path, {.lazy = true});
  std::unique_ptr<GgmlCpuActivations> rounding;
  if (ggml_cpu && m.format == "gguf") {
    rounding = GgmlCpuActivations::from_gguf(path);
    eo.hooks = rounding.get();
  }
  QualityRow r;
  r.path = path;
  r.format = m.format;
  r.dtype = m.dtype;
  r.file_bytes = m.file_bytes;
  r.n_params = m.n_params;
  Transformer model(m.weights);
  Progress bar(model_short_name(path), size_t(b.plan().windows), true, "windows");
  r.metrics = evaluate_quality(model, b, eo, [&](int64_t, int64_t) { bar.update(1); });
  bar.finish(fmt::format("KLD {:.6f}", r.metrics.kld_mean));
  return r;
}

void write_plot(const CompareArgs& a, const std::vector<QualityRow>& rows) {
  const PlotMetric metric = a.plot_metric == "kld" ? PlotMetric::Kld
                            : a.plot_metric == "ppl" ? PlotMetric::Perplexity
                                                     : PlotMetric::Both;
  const std::string svg = quality_plot_svg(rows, metric, "Quantization quality: " + rows.front().label);
  AtomicOutputFile out(a.plot);
  out.write(svg.data(), svg.size());
  out.commit();
}

void run(const CompareArgs& a, CommonOptions opts, bool detailed) {
  apply_common_options(opts);
  protect_run_inputs({a.original, a.data});
  protect_run_inputs(a.quantized);
  if (!a.plot.empty()) check_output_path(a.plot, {a.base_logits});  // before the evaluation, not after it
  QualityEvalOptions eo;
  eo.top_p = a.top_p;
  QualityThresholds gate;
  if (a.max_ppl_given) gate.max_ppl_increase_pct = a.max_ppl_increase;
  if (a.max_kld_given) gate.max_kld = a.max_kld;

  const BaseLogits base = obtain_base_logits(a, opts);
  std::vector<QualityRow> rows{base_row(a, base, eo)};
  for (const std::string& q : a.quantized) rows.push_back(evaluate_file(q, base, eo, a.ggml_cpu_rounding));
  assign_labels(rows);

  std::string failures;
  for (QualityRow& r : rows) {
    if (r.is_base || !gate.any()) continue;
    r.gate = check_quality_gate(r.metrics, gate);
    if (!r.gate->passed) failures += (failures.empty() ? "" : "\n") + quality_gate_message(r.label, r.dtype, *r.gate);
  }
  sort_by_size(rows);
  if (!a.plot.empty()) write_plot(a, rows);

  if (opts.json()) {
    print_json(rows_to_json(rows));
  } else {
    const WindowPlan& p = base.plan();
    if (detailed)
      for (const QualityRow& r : rows)
        if (!r.is_base) fmt::print("{}\n", format_quality_details(r));
    fmt::print("{} windows of {} tokens, positions {}..{} scored ({} tokens); same top-p set at p = {:g}\n",
               p.windows, p.ctx, p.score_from, p.ctx - 1, p.scored_tokens(), a.top_p);
    fmt::print("{}", format_quality_table(rows));
    if (!a.plot.empty()) fmt::print("Plot written to {}\n", a.plot);
  }
  if (!failures.empty()) throw QualityGateFailure{failures};
}

struct GivenOptions {
  CLI::Option *ctx, *chunks, *max_ppl, *max_kld;
};

GivenOptions add_shared_options(CLI::App* cmd, CompareArgs& a, CommonOptions& opts) {
  cmd->add_option("-f,--data", a.data, "Text to evaluate on (held-out text; not needed when --base-logits exists)");
  auto* ctx = cmd->add_option("-c,--ctx", a.ctx, "Window size in tokens")->capture_default_str()->check(CLI::Range(2, 1 << 20));
  auto* chunks = cmd->add_option("--chunks", a.chunks, "Number of windows (0 = all)")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--base-logits", a.base_logits,
                  "File of the original's log-probs: written if missing, reused (no base run) if present");
  cmd->add_option("--top-p", a.top_p, "Mass p of the base's top-p set compared with the model's ranking")
      ->capture_default_str()->check(CLI::Range(1e-6, 1.0));
  auto* mp = cmd->add_option("--max-ppl-increase", a.max_ppl_increase,
                             "Quality gate: fail (exit 3) if perplexity rises more than PCT percent");
  auto* mk = cmd->add_option("--max-kld", a.max_kld, "Quality gate: fail (exit 3) if the mean KL divergence exceeds X");
  mp->check(CLI::NonNegativeNumber);
  mk->check(CLI::NonNegativeNumber);
  cmd->add_flag("--ggml-cpu-rounding", a.ggml_cpu_rounding,
               "For GGUF files, round each linear layer's input as llama.cpp's CPU backend does (Q8_0/Q8_K/f16 "
               "activations), to compare with llama-perplexity --kl-divergence like for like");
  cmd->add_option("--plot", a.plot, "Write an SVG plot of KLD / perplexity against bits per weight");
  cmd->add_option("--plot-metric", a.plot_metric, "What the plot shows")
      ->check(CLI::IsMember({"kld", "ppl", "both"}))->capture_default_str();
  add_common_options(cmd, opts);
  return {ctx, chunks, mp, mk};
}

// Which options the user set (CLI11 2.1 has no std::optional options); read once parsing is done.
void note_given(CompareArgs& a, const GivenOptions& g) {
  a.ctx_given = g.ctx->count() > 0;
  a.chunks_given = g.chunks->count() > 0;
  a.max_ppl_given = g.max_ppl->count() > 0;
  a.max_kld_given = g.max_kld->count() > 0;
}

}  // namespace

void register_quality_report(CLI::App* quality) {
  {
    auto* cmd = quality->add_subcommand("report", "Quality of a quantized model against its original: perplexity "
                                                  "change, KL divergence, top-1/top-p agreement, optional gate");
    auto a = std::make_shared<CompareArgs>();
    auto opts = std::make_shared<CommonOptions>();
    cmd->add_option("original", a->original, "Original model (directory, file or id)")->required()->transform(model_argument());
    auto quantized = std::make_shared<std::string>();
    cmd->add_option("quantized", *quantized, "Quantized model (directory, file or id)")->required()->transform(model_argument());
    const GivenOptions given = add_shared_options(cmd, *a, *opts);
    cmd->callback([a, opts, quantized, given] {
      note_given(*a, given);
      a->quantized = {*quantized};
      run(*a, *opts, true);
    });
  }
  {
    auto* cmd = quality->add_subcommand("compare", "Table of several quantized models against their original, "
                                                   "sorted by size");
    auto a = std::make_shared<CompareArgs>();
    auto opts = std::make_shared<CommonOptions>();
    cmd->add_option("original", a->original, "Original model (directory, file or id)")->required()->transform(model_argument());
    cmd->add_option("quantized", a->quantized, "Quantized models")->required()->expected(1, -1)->transform(model_argument());
    const GivenOptions given = add_shared_options(cmd, *a, *opts);
    cmd->callback([a, opts, given] {
      note_given(*a, given);
      run(*a, *opts, false);
    });
  }
}

}  // namespace llmq::cli
