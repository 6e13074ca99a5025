// Integer weight quantization (RTN / GPTQ / AWQ) written as Hugging Face-style
// checkpoints for vLLM, transformers and MLX. See quantize_hf.h for how the
// options join the shared `quantize` subcommand.
#include "quantize_hf.h"

#include <cctype>
#include <cstdio>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "calibration/super_weights.h"
#include "distributed/cluster.h"
#include "export/hf/hf_quantize_pipeline.h"
#include "mixed/expert_bits.h"
#include "mixed/hf_bit_allocation.h"
#include "mixed/hf_kl_sensitivity.h"
#include "mixed/profile.h"
#include "util/byte_size.h"
#include "util/error.h"
#include "util/progress.h"

namespace llmq::cli {

void add_hf_quantize_options(CLI::App* cmd, QuantizeHfArgs& a) {
  const std::string g = "GPTQ / AWQ / RTN";
  cmd->add_option("--format-out", a.format_out, "Checkpoint layout: gptq, awq, compressed-tensors, mlx (default: the method's own)")
      ->check(CLI::IsMember({"gptq", "awq", "compressed-tensors", "mlx"}))->group(g);
  cmd->add_option("--bits,--q-bits", a.bits, "Bits per weight")->check(CLI::IsMember({2, 3, 4, 8}))->capture_default_str()->group(g);
  cmd->add_option("--group-size,--q-group-size", a.group_size, "Weights per scale along the input (-1: per output channel)")
      ->check(CLI::IsMember({-1, 32, 64, 128}))->capture_default_str()->group(g);
  cmd->add_flag("--asym", a.asym, "Asymmetric grids (zero points) instead of symmetric")->group(g);
  cmd->add_option("--calibration,--data", a.calibration, "Calibration (dwq: training) text (plain, JSON array or JSONL; default: shared calibration.txt)")
      ->group(g);
  cmd->add_option("--samples", a.samples, "Calibration windows")->check(CLI::PositiveNumber)->capture_default_str()->group(g);
  cmd->add_option("--ctx", a.ctx, "Tokens per calibration window")->check(CLI::Range(8, 1 << 20))->capture_default_str()->group(g);
  cmd->add_option("--seed", a.seed, "Seed for picking calibration windows")->capture_default_str()->group(g);
  cmd->add_option("--damp-percent", a.damp_percent, "GPTQ: dampening, a fraction of mean(diag H)")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str()->group(g);
  cmd->add_option("--block-size", a.block_size, "GPTQ: columns per lazy batch update")->check(CLI::PositiveNumber)
      ->capture_default_str()->group(g);
  cmd->add_flag("--desc-act", a.desc_act, "GPTQ: quantize columns by decreasing Hessian diagonal (act order, writes g_idx)")->group(g);
  cmd->add_flag("--static-groups", a.static_groups, "GPTQ: fix group grids before any update (act order without g_idx permutation)")
      ->group(g);
  cmd->add_flag("--no-true-sequential", a.no_true_sequential, "GPTQ: quantize a block's linears from one pass, not attention then MLP")
      ->group(g);
  cmd->add_flag("--no-sequential", a.no_sequential, "Take every statistic from the full-precision model, not from quantized blocks")
      ->group(g);
  cmd->add_option("--awq-grid", a.awq_grid, "AWQ: points of the alpha grid")->check(CLI::Range(1, 1000))->capture_default_str()->group(g);
  cmd->add_flag("--no-clip", a.no_clip, "AWQ: skip the clipping search")->group(g);
  cmd->add_flag("--duo-scaling", a.duo_scaling, "AWQ: divide the scales by mean|w|^(1-alpha) as AutoAWQ does")->group(g);
  cmd->add_flag("--no-gptq-clip", a.no_gptq_clip,
                "GPTQ: plain min-max group grids instead of the clipping ratio that minimises GPTQ's weighted error")
      ->group(g);
  cmd->add_option("--min-expert-tokens", a.min_expert_tokens, "MoE: experts routed fewer calibration tokens get RTN")
      ->check(CLI::NonNegativeNumber)->capture_default_str()->group(g);
  cmd->add_option("--ignore", a.ignore,
                  "Keep linears whose weight name matches this regex in floating point (repeatable; for vLLM ignore "
                  "q/k/v or gate/up together, it fuses them)")
      ->group(g);
  cmd->add_option("--max-shard-size", a.max_shard_size, "Split the weights into shards of at most this size (e.g. 5GB, 500MB)")
      ->capture_default_str()->group(g);
  cmd->add_option("--resume", a.resume_dir,
                  "Folder of finished layers to save to and resume from (gptq/awq/rtn/fp8/fp4/int8/smoothquant; "
                  "default: <output>.checkpoint, removed when the output is written)")
      ->group(g);
  cmd->add_flag("--restart", a.restart, "Ignore finished layers of an earlier run and start over")->group(g);
  cmd->add_option("--max-memory", a.max_memory,
                  "Memory for GPTQ/AWQ (e.g. 8GB): calibration hidden states beyond what fits beside one layer's "
                  "working memory go to a temporary file in the checkpoint folder")
      ->group(g);
}

namespace {

// The super-weight list --protect-super-weights reads; "" when not protecting.
std::string super_weights_file(const QuantizeHfArgs& a) {
  if (!a.protect_super_weights) {
    if (!a.super_weights.empty()) fail("--super-weights needs --protect-super-weights");
    return "";
  }
  if (!a.super_weights.empty()) return a.super_weights;
  if (a.imatrix.empty())
    fail("--protect-super-weights needs --super-weights FILE or --imatrix FILE (whose <imatrix>.superweights.json "
         "`analyze --identify-super-weights` writes)");
  return super_weights_path_for(a.imatrix);
}

HfQuantizeJob make_job(const QuantizeHfArgs& a) {
  HfQuantizeJob j;
  j.model_dir = a.model;
  j.output_dir = a.output;
  j.quant.method = parse_int_quant_method(a.method);
  const std::string fmt_name = !a.format_out.empty() ? a.format_out : (a.method == "awq" ? "awq" : "gptq");
  j.format = parse_hf_quant_format(fmt_name);
  j.quant.spec.bits = a.bits;
  j.quant.spec.group_size = a.group_size;
  j.quant.spec.sym = !a.asym;
  j.quant.gptq.damp_percent = a.damp_percent;
  j.quant.gptq.block_size = a.block_size;
  j.quant.gptq.desc_act = a.desc_act;
  j.quant.gptq.static_groups = a.static_groups;
  j.quant.true_sequential = !a.no_true_sequential;
  j.quant.sequential = !a.no_sequential;
  j.quant.awq.grid = a.awq_grid;
  j.quant.awq.clip = !a.no_clip;
  j.quant.awq.duo_scaling = a.duo_scaling;
  j.quant.gptq.clip_search = !a.no_gptq_clip;
  j.quant.min_expert_tokens = a.min_expert_tokens;
  j.quant.ignore = a.ignore;
  j.super_weights_file = super_weights_file(a);
  j.max_shard_bytes = parse_byte_size(a.max_shard_size, "--max-shard-size");
  if (!a.max_memory.empty()) j.max_memory = parse_byte_size(a.max_memory, "--max-memory");
  if (j.quant.method != IntQuantMethod::Gptq && (a.desc_act || a.static_groups))
    fail("--desc-act / --static-groups apply to gptq only");
  j.calibration_path = a.calibration;
  j.checkpoint_dir = a.resume_dir;
  j.restart = a.restart;
  j.windows.samples = a.samples;
  j.windows.ctx = a.ctx;
  j.windows.seed = a.seed;
  return j;
}

// Who reads per-expert widths (docs/dynamic_quantization.md section 4 has the sources).
constexpr const char* kExpertBitsReaders =
    "per-expert widths are read by consumers that keep each expert a module of its own (GPTQModel, transformers "
    "with compressed-tensors, llm-quantize); vLLM's fused-MoE kernels take one width for all experts of a layer";

// --dynamic-experts: per-expert bits from the importance matrix's routing counts.
std::optional<ExpertBitsPlan> expert_bits_plan(const QuantizeHfArgs& a, HfQuantizeJob& job) {
  if (!a.dynamic_experts) return std::nullopt;
  if (job.quant.method == IntQuantMethod::Awq)
    fail("--dynamic-experts writes per-expert bits for rtn and gptq, not awq (AWQ checkpoints hold one bit width)");
  check_linear_bits_for_format(job.format, {{"model.layers.0.mlp.experts.0.gate_proj.weight", a.bits}});
  ExpertTierOptions opt;
  opt.hot_fraction = a.hot_fraction;
  opt.bits = {a.expert_min_bits, a.expert_max_bits};
  ExpertBitsPlan plan = plan_expert_bits_for_model(a.model, a.imatrix, job.format, opt);
  job.quant.linear_bits = plan.linear_bits;
  return plan;
}

// --target-bpw / --target-size: per-linear widths within the budget (hf_bit_allocation.h).
std::optional<HfBitAllocation> budget_plan(const QuantizeHfArgs& a, HfQuantizeJob& job, bool quiet) {
  if (a.target_bpw <= 0 && a.target_size.empty()) return std::nullopt;
  const char* opt = a.target_size.empty() ? "--target-bpw" : "--target-size";
  if (job.quant.method == IntQuantMethod::Awq)
    fail("{} writes per-linear bits for rtn and gptq, not awq (AWQ checkpoints hold one bit width)", opt);
  if (a.dynamic_experts) fail("{} and --dynamic-experts both set per-linear bits; give one", opt);
  if (a.protect_super_weights) fail("{} with --protect-super-weights is not supported; protect with --ignore", opt);
  check_linear_bits_for_format(job.format, {{"model.layers.0.self_attn.q_proj.weight", a.bits}});
  IntQuantizeOptions q = job.quant;
  const bool act_order = q.method == IntQuantMethod::Gptq && q.gptq.desc_act;
  q.spec = spec_for_format(job.format, q.spec, q.gptq, act_order);
  HfBudget budget;
  budget.target_bpw = a.target_bpw;
  if (!a.target_size.empty()) budget.target_bytes = parse_byte_size(a.target_size, "--target-size");
  budget.max_shard_bytes = job.max_shard_bytes;
  HfAllocationOptions o;
  if (!a.sensitivity.empty()) o.mode = sensitivity_mode_from_name(a.sensitivity);
  o.data_path = a.measure.sensitivity_data;
  o.kld = a.measure.kld;
  o.cache_path = a.measure.sensitivity_cache;
  o.no_cache = a.measure.no_sensitivity_cache;
  std::unique_ptr<Progress> bar;
  o.progress = [&](size_t done, size_t total, const std::string& name) {
    if (!bar) bar = std::make_unique<Progress>("sensitivity", total, !quiet, "linears");
    bar->update(1, name);
    if (done == total) bar->finish();
  };
  HfBitAllocation plan = allocate_hf_bits_for_model(a.model, a.imatrix, job.format, q, budget, {a.min_bits, a.max_bits}, o);
  job.quant.linear_bits = plan.linear_bits();
  return plan;
}

void print_budget_plan(const HfBitAllocation& p, const char* format, uint64_t written_bytes) {
  for (const HfLinearAllocation& l : p.linears)
    fmt::print("  {:<48} {:>5}x{:<5} {} bits {:>10} bytes  sensitivity {:.3e}{}{}\n", l.name, l.rows, l.cols, l.chosen().bits,
               l.chosen().bytes, l.chosen().sensitivity, l.chosen().measured ? " (measured)" : "",
               l.has_importance ? "" : " (no imatrix entry)");
  std::vector<std::string> counts;
  for (const auto& [b, n] : p.linears_per_width()) counts.push_back(fmt::format("{}-bit: {}", b, n));
  const std::string target = p.target_bytes ? fmt::format("size {} bytes", p.target_bytes) : fmt::format("{:g} bpw", p.target_bpw);
  fmt::print("allocation ({} widths {}, {} sensitivity): {:.4f} bpw for target {} ({} of {} bytes for the linears, scales "
             "and zeros included); {}; summed sensitivity {:.4e} (bound {:.4e}, {})\n",
             format, fmt::join(p.widths, "/"), sensitivity_mode_name(p.mode), p.bpw(), target, p.used_bytes, p.budget_bytes,
             fmt::join(counts, ", "), p.sensitivity, p.lower_bound, p.exact ? "optimal" : "not proven optimal");
  if (p.mode != SensitivityMode::Fast)
    fmt::print("sensitivity: {} forward passes, {} from the cache ({}{}), {:.1f} s\n", p.measured, p.reused,
               p.cache.empty() ? "none kept" : p.cache, p.cache_note.empty() ? "" : ": " + p.cache_note, p.measure_seconds);
  if (p.target_bytes)
    fmt::print("size: target {} bytes, written {} bytes ({:.2f}% of target; {} bytes kept in floating point and headers)\n",
               p.target_bytes, written_bytes, 100.0 * double(written_bytes) / double(p.target_bytes), p.fixed_bytes);
}

nlohmann::json expert_plan_json(const ExpertBitsPlan& p) {
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerExpertBits& l : p.layers) {
    std::vector<std::string> tiers;
    for (ExpertTier t : l.tiers) tiers.push_back(expert_tier_name(t));
    layers.push_back({{"layer", l.layer}, {"routing_counts", l.counts}, {"tiers", tiers}, {"bits", l.bits},
                      {"mean_bits", l.mean_bits}});
  }
  return {{"granularity", "per expert"},
          {"readers", kExpertBitsReaders},
          {"bits", {{"cold", p.widths.cold}, {"average", p.widths.average}, {"hot", p.widths.hot}}},
          {"layers", layers}};
}

void print_expert_plan(const ExpertBitsPlan& p, const char* format) {
  fmt::print("MoE experts: per expert ({} stores each expert's projections as modules of their own): "
             "cold {} bits, average {} bits, hot {} bits\n", format, p.widths.cold, p.widths.average, p.widths.hot);
  for (const LayerExpertBits& l : p.layers) fmt::print("  layer {:>3}: bits {} (mean {:.2f})\n", l.layer, fmt::join(l.bits, " "), l.mean_bits);
  fmt::print("note: {}\n", kExpertBitsReaders);
}

void print_protection(const SuperWeightProtection& p) {
  if (p.linears.empty()) {
    fmt::print("super weights: none listed in {}; nothing protected\n", p.file);
    return;
  }
  fmt::print("super weights ({}): {} linears kept unquantized, +{:.1f} KiB against quantizing them\n", p.file,
             p.linears.size(), double(p.extra_bytes()) / 1024.0);
  for (const ProtectedLinear& l : p.linears) {
    std::vector<std::string> at;
    for (const SuperWeight& s : l.super_weights) at.push_back(fmt::format("[{}, {}] = {}", s.row, s.col, s.value));
    fmt::print("  {} ({}{}): {}; +{} bytes\n", l.weight, dtype_name(l.dtype), l.exact ? ", exact" : ", NOT exact in this dtype",
               fmt::join(at, ", "), l.extra_bytes());
  }
}

}  // namespace

void run_quantize_hf(const QuantizeHfArgs& a, const CommonOptions& common) {
  HfQuantizeJob job = make_job(a);
  // In a distributed GPTQ/AWQ run rank 0 plans the bits, every rank quantizes its share, rank 0 writes and reports.
  Cluster& cluster = Cluster::get();
  std::optional<ExpertBitsPlan> experts;
  std::optional<HfBitAllocation> budget;
  if (cluster.is_root()) {
    experts = expert_bits_plan(a, job);
    budget = budget_plan(a, job, common.quiet || common.json());
  }
  if (!cluster.single()) {
    std::string bits = cluster.is_root() ? nlohmann::json(job.quant.linear_bits).dump() : std::string();
    std::vector<uint8_t> bytes(bits.begin(), bits.end());
    cluster.broadcast(bytes, 0);
    nlohmann::json::parse(bytes.begin(), bytes.end()).get_to(job.quant.linear_bits);
  }
  if (!cluster.is_root()) {
    run_hf_quantize(job, {});
    return;
  }
  std::unique_ptr<Progress> bar;
  const HfQuantizeOutcome r = run_hf_quantize(job, [&](int layer, int n) {
    if (!bar) bar = std::make_unique<Progress>(a.method, size_t(n), true, "layers");
    bar->update(1, fmt::format("layer {}", layer));
  });
  if (bar) bar->finish();
  if (common.json()) {
    print_json({{"model", a.model},
                {"method", a.method},
                {"format", hf_quant_format_name(job.format)},
                {"output", r.output_dir},
                {"bits", a.bits},
                {"group_size", a.group_size},
                {"sym", !a.asym},
                {"quantized_linears", r.quantized_linears},
                {"bytes", r.bytes},
                {"source_bytes", r.source_bytes},
                {"calibration_windows", r.calibration_windows},
                {"calibration_tokens", r.calibration_tokens},
                {"seconds", r.seconds},
                {"resumed_layers", r.resumed_layers},
                {"state_budget_bytes", r.state_budget_bytes ? nlohmann::json(*r.state_budget_bytes) : nlohmann::json(nullptr)},
                {"states_spilled_bytes", r.states_spilled_bytes},
                {"files", r.files},
                {"ignored", r.ignored},
                {"rtn_fallbacks", r.rtn_fallbacks},
                {"warnings", r.warnings},
                {"report", r.report},
                {"allocation", budget ? hf_bit_allocation_json(*budget) : nlohmann::json(nullptr)},
                {"target_bytes", budget && budget->target_bytes ? nlohmann::json(budget->target_bytes) : nlohmann::json(nullptr)},
                {"experts", experts ? expert_plan_json(*experts) : nlohmann::json(nullptr)},
                {"super_weight_protection", r.protection ? protection_json(*r.protection) : nlohmann::json(nullptr)}});
    return;
  }
  for (const std::string& w : r.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  if (r.resumed_layers > 0 && !common.quiet)
    std::fprintf(stderr, "resumed: %d finished layers taken from the checkpoint of an earlier run\n", r.resumed_layers);
  if (r.states_spilled_bytes > 0 && !common.quiet)
    std::fprintf(stderr, "note: --max-memory: up to %.1f MiB of hidden states were kept on disk\n",
                 double(r.states_spilled_bytes) / 1048576.0);
  if (!r.rtn_fallbacks.empty())
    std::fprintf(stderr, "note: %zu linears fell back to RTN (first: %s)\n", r.rtn_fallbacks.size(), r.rtn_fallbacks[0].c_str());
  if (!r.ignored.empty()) std::fprintf(stderr, "note: %zu linears kept in floating point (--ignore, --protect-super-weights)\n", r.ignored.size());
  if (experts) print_expert_plan(*experts, hf_quant_format_name(job.format));
  if (budget) print_budget_plan(*budget, hf_quant_format_name(job.format), r.bytes);
  if (r.protection) print_protection(*r.protection);
  if (r.files.size() > 1) std::fprintf(stderr, "note: weights split into %zu shards\n", r.files.size());
  fmt::print("wrote {} ({} {}-bit {}, {} layout): {} quantized linears, {:.2f} MiB (from {:.2f} MiB), {:.1f} s\n",
             r.output_dir, a.method, budget ? std::string("mixed") : std::to_string(a.bits), a.group_size < 0 ? std::string("per-channel") : fmt::format("g{}", a.group_size),
             hf_quant_format_name(job.format), r.quantized_linears, double(r.bytes) / 1048576.0,
             double(r.source_bytes) / 1048576.0, r.seconds);
}

}  // namespace llmq::cli
