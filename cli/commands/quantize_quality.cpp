#include "quantize_quality.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "eval/logit_store.h"
#include "eval/perplexity.h"
#include "eval/quality_eval.h"
#include "model/model_loader.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/progress.h"

namespace llmq::cli {

void add_quantize_quality_options(CLI::App* cmd, QuantizeQualityArgs& a) {
  cmd->add_flag("--quality-report", a.enabled,
                "After writing, print the quality table (perplexity, KL divergence, top-1) against the original");
  cmd->add_option("--quality-data", a.data, "Held-out text for --quality-report");
  cmd->add_option("--quality-chunks", a.chunks, "Windows for --quality-report")
      ->capture_default_str()->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  cmd->add_option("--quality-ctx", a.ctx, "Window size for --quality-report")
      ->capture_default_str()->check(CLI::Range(int64_t(2), int64_t(1) << 20));
}

void check_quantize_quality_args(const QuantizeQualityArgs& a) {
  if (a.enabled && a.data.empty()) throw CLI::RequiredError("--quality-data (the text --quality-report evaluates on)");
}

std::vector<QualityRow> quantize_quality_rows(const std::string& original, const std::string& quantized,
                                              const QuantizeQualityArgs& a, bool show_progress) {
  std::ifstream f(a.data, std::ios::binary);
  if (!f) throw file_error(a.data, "cannot open data file");
  std::stringstream ss;
  ss << f.rdbuf();
  if (ss.str().empty()) throw file_error(a.data, "data file is empty");

  QualityEvalOptions eo;
  std::vector<QualityRow> rows(2);
  std::optional<BaseLogits> base;
  {
    LoadedModel m = load_model(original, {.lazy = true});
    const std::vector<int32_t> tokens = m.tokenizer->encode(ss.str(), false);
    if (available_chunks(int64_t(tokens.size()), a.ctx) == 0)
      throw file_error(a.data, fmt::format("has {} tokens, too few for one window of {} (+1)", tokens.size(), a.ctx));
    const WindowPlan plan = plan_windows(int64_t(tokens.size()), a.ctx, a.chunks);
    Transformer model(m.weights);
    Progress bar("base logits", size_t(plan.windows), show_progress, "windows");
    base.emplace(compute_base_logits(model, tokens, plan, {{"model", original}, {"data", a.data}},
                                     [&](int64_t, int64_t) { bar.update(1); }));
    bar.finish();
    rows[0].path = original;
    rows[0].format = m.format;
    rows[0].dtype = m.dtype;
    rows[0].file_bytes = m.file_bytes;
    rows[0].n_params = m.n_params;
    rows[0].is_base = true;
    rows[0].metrics = base_metrics(*base, eo);
  }
  LoadedModel q = load_model(quantized, {.lazy = true});
  rows[1].path = quantized;
  rows[1].format = q.format;
  rows[1].dtype = q.dtype;
  rows[1].file_bytes = q.file_bytes;
  rows[1].n_params = q.n_params;
  Transformer model(q.weights);
  Progress bar("quality", size_t(base->plan().windows), show_progress, "windows");
  rows[1].metrics = evaluate_quality(model, *base, eo, [&](int64_t, int64_t) { bar.update(1); });
  bar.finish(fmt::format("KLD {:.6f}", rows[1].metrics.kld_mean));
  assign_labels(rows);
  return rows;
}

}  // namespace llmq::cli
