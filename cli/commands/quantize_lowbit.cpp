// FP8 / FP4 / int8 / SmoothQuant checkpoints in compressed-tensors layout.
// See quantize_lowbit.h for how the options join the `quantize` subcommand.
#include "quantize_lowbit.h"

#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "distributed/cluster.h"
#include "export/hf/lowbit_pipeline.h"
#include "util/error.h"
#include "util/progress.h"

namespace llmq::cli {

void add_lowbit_quantize_options(CLI::App* cmd, QuantizeLowbitArgs& a) {
  const std::string g = "FP8 / FP4 / INT8 / SmoothQuant";
  cmd->add_option("--scheme", a.scheme,
                  "fp8: dynamic (default), static, w8a16; fp4: nvfp4 (default), mxfp4; int8: w8a16 (default), w8a8; "
                  "smoothquant: w8a8")
      ->group(g);
  cmd->add_option("--alpha", a.alpha, "SmoothQuant migration strength: s = max|X|^alpha / max|W|^(1-alpha)")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str()->group(g);
  cmd->add_flag("--smoothquant", a.smoothquant, "Smooth activation outliers into the weights first (schemes with quantized activations)")
      ->group(g);
  cmd->add_flag("--smooth-norms-only", a.smooth_norms_only, "SmoothQuant: smooth only the norm-fed q/k/v and gate/up inputs")
      ->group(g);
  cmd->add_option("--weight-scales", a.weight_scales, "fp8: one weight scale per output channel or per tensor")
      ->check(CLI::IsMember({"channel", "tensor"}))->group(g);
  cmd->add_option("--kv-cache-dtype", a.kv_cache_dtype, "fp8: calibrate per-layer k/v scales for an FP8 KV cache")
      ->check(CLI::IsMember({"auto", "fp8"}))->capture_default_str()->group(g);
  cmd->add_option("--scale-rule", a.scale_rule, "FP8/FP4 scales: search around max-abs for the lowest error, or max-abs")
      ->check(CLI::IsMember({"search", "max-abs"}))->capture_default_str()->group(g);
  cmd->add_flag("--no-importance", a.no_importance, "Scale search without calibration importance (unweighted error)")
      ->group(g);
}

void run_quantize_lowbit(const QuantizeLowbitArgs& a, const CommonOptions& common) {
  LowbitQuantizeJob job;
  job.model_dir = a.model;
  job.output_dir = a.output;
  job.scheme = parse_lowbit_scheme(a.method, a.scheme, a.weight_scales, a.smoothquant);
  job.scheme.alpha = a.alpha;
  job.scheme.smooth_norms_only = a.smooth_norms_only;
  job.scheme.kv_fp8 = a.kv_cache_dtype == "fp8";
  job.scheme.scale_rule = a.scale_rule == "max-abs" ? fp::ScaleRule::max_abs : fp::ScaleRule::search;
  job.scheme.use_importance = !a.no_importance;
  job.calibration_path = a.calibration;
  job.windows.samples = a.samples;
  job.windows.ctx = a.ctx;
  job.windows.seed = a.seed;
  job.checkpoint_dir = a.resume_dir;
  job.restart = a.restart;

  std::unique_ptr<Progress> bar;
  const LowbitQuantizeOutcome r = run_lowbit_quantize(job, [&](int64_t, int64_t n) {
    if (!bar) bar = std::make_unique<Progress>(a.method, size_t(n), true, "linears");
    bar->update(1, "");
  });
  if (bar) bar->finish();
  if (!Cluster::get().is_root()) return;  // rank 0 wrote the checkpoint and reports
  if (common.json()) {
    nlohmann::json j = {{"model", a.model}, {"method", a.method}, {"format", "compressed-tensors"}, {"output", r.output_dir}};
    j.update(lowbit_outcome_json(r));
    print_json(j);
    return;
  }
  for (const std::string& w : r.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  if (r.resumed_layers > 0 && !common.quiet)
    std::fprintf(stderr, "resumed: %d finished layers taken from the checkpoint of an earlier run\n", r.resumed_layers);
  if (r.report.contains("activation_outliers")) {
    const auto& o = r.report["activation_outliers"];
    fmt::print("activation outliers (max / median channel of q/k/v and gate/up inputs): {:.1f}{}\n",
               o["qkv_gate_up_max_over_median"].get<double>(),
               job.scheme.smooth ? fmt::format(", after smoothing {:.1f}", o["qkv_gate_up_smoothed"].get<double>()) : "");
  }
  fmt::print("wrote {} ({}, compressed-tensors): {} quantized linears, {:.2f} MiB (from {:.2f} MiB), {:.1f} s\n",
             r.output_dir, job.scheme.name(), r.quantized_linears, double(r.bytes) / 1048576.0,
             double(r.source_bytes) / 1048576.0, r.seconds);
}

}  // namespace llmq::cli
