// llm-quantize quantize MODEL gguf -q TYPE [-o OUT.gguf] [--dry-run] ...
// Writes a GGUF file for llama.cpp with llama-quantize's per-tensor types,
// or with dynamic mixed precision (-q dynamic, quantize_dynamic.h).
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "../cli_common.h"
#include "distributed/cluster.h"
#include "gguf_gptq_report.h"
#include "quantize_coherence.h"
#include "quantize_dynamic.h"
#include "quantize_dwq.h"
#include "quantize_hf.h"
#include "quantize_quality.h"
#include "quantize_lowbit.h"
#include "calibration/imatrix_file.h"
#include "calibration/model_fingerprint.h"
#include "export/gguf/gguf_exporter.h"
#include "export/gguf/gguf_gptq.h"
#include "export/hf/lowbit_scheme.h"
#include "io/gguf/gguf_tensor_info.h"
#include "quant/formats/ggml/ggml_quants.h"
#include "util/error.h"
#include "util/finite_check.h"
#include "util/progress.h"

namespace llmq::cli {

namespace {

struct QuantizeArgs {
  std::string model, format, type, output, imatrix, name;
  std::string output_tensor_type, token_embedding_type;
  std::vector<std::string> tensor_types;
  bool pure = false, leave_output = false, dry_run = false, gptq = false;
};

ggml::GgmlType parse_tensor_type(const std::string& option, const std::string& s) {
  auto t = ggml::type_from_name(s);
  if (!t || !ggml::can_quantize(*t))
    throw Error(fmt::format("{}: '{}' is not a ggml type we can write (e.g. q4_0, q4_k, q6_k, q8_0, f16, bf16, f32)",
                            option, s));
  return *t;
}

GgufQuantOptions quant_options(const QuantizeArgs& a) {
  GgufQuantOptions q;
  auto preset = preset_from_name(a.type);
  if (!preset) throw Error(fmt::format("-q: unknown type '{}' (supported: {})", a.type, preset_names()));
  q.preset = *preset;
  if (!a.output_tensor_type.empty()) q.output_tensor_type = parse_tensor_type("--output-tensor-type", a.output_tensor_type);
  if (!a.token_embedding_type.empty())
    q.token_embedding_type = parse_tensor_type("--token-embedding-type", a.token_embedding_type);
  for (const std::string& spec : a.tensor_types) {
    const size_t eq = spec.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
      throw Error(fmt::format("--tensor-type: '{}' is not PATTERN=TYPE", spec));
    q.tensor_types.emplace_back(spec.substr(0, eq), parse_tensor_type("--tensor-type", spec.substr(eq + 1)));
  }
  q.pure = a.pure;
  q.leave_output_tensor = a.leave_output;
  return q;
}

nlohmann::json tensor_json(const GgufTensorResult& t) {
  nlohmann::json j = {{"name", t.name},     {"shape", t.ne},   {"type", ggml::type_name(t.type)},
                      {"bytes", t.bytes},   {"bpw", t.bpw()},  {"elements", t.n_elements}};
  if (!t.note.empty()) j["note"] = t.note;
  if (t.used_importance) j["imatrix"] = true;
  if (t.used_gptq) j["gptq"] = true;
  return j;
}

nlohmann::json result_json(const GgufExportResult& r) {
  nlohmann::json tensors = nlohmann::json::array();
  for (const auto& t : r.tensors) tensors.push_back(tensor_json(t));
  const double mb = double(r.source_bytes) / 1e6;
  return {{"model", r.model_dir},
          {"format", "gguf"},
          {"type", preset_info(r.preset).name},
          {"output", r.dry_run ? nlohmann::json() : nlohmann::json(r.output)},
          {"dry_run", r.dry_run},
          {"parameters", r.n_elements},
          {"tensor_bytes", r.tensor_bytes},
          {"file_bytes", r.file_bytes},
          {"source_bytes", r.source_bytes},
          {"bits_per_weight", r.bpw()},
          {"needs_imatrix", r.needs_importance},
          {"seconds", r.seconds},
          {"mb_per_second", r.seconds > 0 && !r.dry_run ? mb / r.seconds : 0.0},
          {"tensors", tensors}};
}

void print_text(const GgufExportResult& r) {
  if (r.dry_run) {
    for (const auto& t : r.tensors)
      fmt::print("{:<32} {:>18} {:<6} {:>10.3f} MiB {:>6.2f} bpw{}\n", t.name, gguf::shape_string(t.ne),
                 ggml::type_name(t.type), double(t.bytes) / 1048576.0, t.bpw(), t.note.empty() ? "" : "  (" + t.note + ")");
    fmt::print("dry run: {} tensors, {} parameters, {:.2f} MiB of tensor data ({:.2f} bits/weight); nothing written\n",
               r.tensors.size(), r.n_elements, double(r.tensor_bytes) / 1048576.0, r.bpw());
    if (r.needs_importance)
      fmt::print("note: writing this file needs --imatrix (make one with `llm-quantize analyze {}`)\n", r.model_dir);
    return;
  }
  fmt::print("wrote {} ({}): {:.2f} MiB, {:.2f} bits/weight, {} tensors, {:.1f} s ({:.1f} MB/s of checkpoint)\n",
             r.output, preset_info(r.preset).name, double(r.file_bytes) / 1048576.0, r.bpw(), r.tensors.size(),
             r.seconds, r.seconds > 0 ? double(r.source_bytes) / 1e6 / r.seconds : 0.0);
}

}  // namespace

void register_quantize(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "quantize", "Quantize a Hugging Face model: gguf (llama.cpp), gptq|awq|rtn (GPTQ/AWQ/compressed-tensors/MLX checkpoints), dwq (MLX, scales learned by distillation) "
      "or fp8|fp4|int8|smoothquant (compressed-tensors for vLLM)");
  auto a = std::make_shared<QuantizeArgs>();
  auto opts = std::make_shared<CommonOptions>();
  cmd->add_option("model", a->model, "Hugging Face model directory or id")->required()->transform(model_argument());
  cmd->add_option("format", a->format, "Output format")->required()
      ->check(CLI::IsMember({"gguf", "gptq", "awq", "rtn", "dwq", "fp8", "fp4", "int8", "smoothquant"}));
  cmd->add_option("-q,--type", a->type, "GGUF preset (required for gguf): " + preset_names() +
                                           ", or dynamic (mixed precision to a budget: --profile, --target-bpw, --target-size)");
  auto hf = std::make_shared<QuantizeHfArgs>();
  add_hf_quantize_options(cmd, *hf);
  auto dwq = std::make_shared<QuantizeDwqArgs>();
  add_dwq_quantize_options(cmd, *dwq);
  auto lowbit = std::make_shared<QuantizeLowbitArgs>();
  add_lowbit_quantize_options(cmd, *lowbit);
  cmd->add_option("-o,--output", a->output, "Output file (default: <model dir>-<TYPE>.gguf beside the model)");
  cmd->add_option("--output-tensor-type", a->output_tensor_type, "ggml type of output.weight");
  cmd->add_option("--token-embedding-type", a->token_embedding_type, "ggml type of token_embd.weight");
  cmd->add_option("--tensor-type", a->tensor_types, "PATTERN=TYPE: ggml type of tensors whose GGUF name matches the regex")
      ->take_all();
  cmd->add_flag("--pure", a->pure, "Use the preset's type for every quantized tensor (no mixture rules)");
  cmd->add_flag("--leave-output-tensor", a->leave_output, "Keep output.weight unquantized");
  cmd->add_option("--imatrix", a->imatrix, "Importance matrix file (llama.cpp imatrix)");
  cmd->add_option("--name", a->name, "general.name (default: the model directory's name)");
  cmd->add_flag("--dry-run", a->dry_run, "Print each tensor's type, size and bits per weight; write nothing");
  cmd->add_flag("--gptq", a->gptq,
                "gguf: quantize the layers' k-quant (Q2_K..Q6_K) and IQ4_XS tensors with GPTQ's error feedback, from Hessians of "
                "calibration text (--calibration, --samples, --ctx); same types and bytes as without");
  auto coherence = std::make_shared<CoherenceArgs>();
  add_coherence_options(cmd, *coherence);
  auto dyn = std::make_shared<QuantizeDynamicArgs>();
  add_dynamic_options(cmd, dyn->dyn, true);
  add_quantize_quality_options(cmd, dyn->quality);
  // -q is the type here, so the common options are added without their -q short form.
  cmd->add_option("--format", opts->format, "Output format")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  cmd->add_option("-t,--threads", opts->threads, "Threads (0 = all cores)")->capture_default_str()->check(CLI::Range(0, 1024));
  cmd->add_flag("--quiet", opts->quiet, "No progress output");
  add_overwrite_option(cmd, *opts);
  auto allow_nonfinite = std::make_shared<bool>(false);
  cmd->add_flag("--allow-nonfinite", *allow_nonfinite,
                "Quantize weights that hold NaN or Inf instead of refusing them (they become zeros or NaN blocks)");
  cmd->callback([=] {
    apply_common_options(*opts);
    set_allow_nonfinite(*allow_nonfinite);
    protect_run_inputs({a->model, a->imatrix, hf->calibration, dyn->dyn.profile, dyn->dyn.super_weights,
                        dyn->quality.data});
    if (a->gptq && a->format != "gguf")
      throw CLI::ValidationError("--gptq", "applies to gguf files (-q Q4_K_M, -q dynamic, ...); for HF checkpoints use the gptq format");
    GgufGptqArgs gptq;
    gptq.enabled = a->gptq && !a->dry_run;
    gptq.calibration = hf->calibration;
    gptq.windows.samples = hf->samples;
    gptq.windows.ctx = hf->ctx;
    gptq.windows.seed = hf->seed;
    gptq.gptq.damp_percent = hf->damp_percent;
    gptq.gptq.block_size = hf->block_size;
    if (is_lowbit_method(a->format)) {  // FP8 / FP4 / int8 / SmoothQuant compressed-tensors checkpoints
      lowbit->model = a->model;
      lowbit->method = a->format;
      lowbit->output = a->output;
      lowbit->calibration = hf->calibration;
      lowbit->samples = hf->samples;
      lowbit->ctx = hf->ctx;
      lowbit->seed = hf->seed;
      lowbit->resume_dir = hf->resume_dir;
      lowbit->restart = hf->restart;
      run_quantize_lowbit(*lowbit, *opts);  // calibration spread over the ranks; rank 0 quantizes and writes
      return;
    }
    if (a->format == "dwq") {  // distillation on rank 0 alone
      if (!Cluster::get().is_root()) return;
      Cluster::get().work_alone();
      dwq->model = a->model;
      dwq->output = a->output;
      dwq->data = hf->calibration;
      dwq->resume_dir = hf->resume_dir;
      dwq->restart = hf->restart;
      dwq->max_shard_size = hf->max_shard_size;
      dwq->format_out = hf->format_out;
      dwq->bits = hf->bits;
      // MLX's default group is 64 (mlx_lm.dwq), GPTQ's 128: the shared option's default is GPTQ's.
      dwq->group_size = cmd->get_option("--group-size")->count() ? hf->group_size : 64;
      dwq->seed = hf->seed;
      run_quantize_dwq(*dwq, *opts);
      return;
    }
    if (a->format != "gguf") {  // integer group-wise methods written as HF-style checkpoints
      hf->model = a->model;
      hf->method = a->format;
      hf->output = a->output;
      hf->imatrix = a->imatrix;
      hf->dynamic_experts = dyn->dyn.dynamic_experts;
      hf->expert_min_bits = dyn->dyn.expert_min_bits;
      hf->expert_max_bits = dyn->dyn.expert_max_bits;
      hf->hot_fraction = dyn->dyn.hot_fraction;
      hf->protect_super_weights = dyn->dyn.protect_super_weights;
      hf->super_weights = dyn->dyn.super_weights;
      if (!dyn->dyn.profile.empty())
        throw CLI::ValidationError("--profile", "applies to gguf; gptq/rtn take --target-bpw or --target-size");
      if (dyn->dyn.o_bpw->count()) hf->target_bpw = dyn->dyn.target_bpw;
      if (dyn->dyn.o_size->count()) hf->target_size = dyn->dyn.target_size;
      const bool budget = dyn->dyn.o_bpw->count() || dyn->dyn.o_size->count();
      if (dyn->dyn.o_min->count()) hf->min_bits = dyn->dyn.min_bits;
      if (dyn->dyn.o_max->count()) hf->max_bits = dyn->dyn.max_bits;
      if ((dyn->dyn.o_min->count() || dyn->dyn.o_max->count()) && !budget)
        throw CLI::ValidationError("--min-bits/--max-bits", "need --target-bpw or --target-size for gptq/rtn");
      hf->sensitivity = dyn->dyn.sensitivity;
      apply_run_options(dyn->dyn, hf->measure);
      if (!budget && !hf->sensitivity.empty())
        throw CLI::ValidationError("--sensitivity", "needs --target-bpw or --target-size for gptq/rtn");
      if (!dyn->dyn.super_weight_type.empty())
        throw CLI::ValidationError("--super-weight-type", "applies to GGUF; gptq/awq/rtn keep protected linears unquantized");
      if (!hf->dynamic_experts && (dyn->dyn.o_emin->count() || dyn->dyn.o_emax->count() || dyn->dyn.o_hot->count()))
        throw CLI::ValidationError("--expert-min-bits/--expert-max-bits/--hot-expert-fraction", "need --dynamic-experts");
      if (hf->method != "gptq" && hf->method != "awq") {  // RTN needs no calibration: rank 0 runs it alone
        if (!Cluster::get().is_root()) return;
        Cluster::get().work_alone();
      }
      run_quantize_hf(*hf, *opts);
      return;
    }
    if (a->type.empty()) throw CLI::RequiredError("-q,--type (the GGUF preset)");
    if (a->type == "dynamic" || a->type == "DYNAMIC") {
      dyn->model = a->model;
      dyn->output = a->output;
      dyn->imatrix = a->imatrix;
      dyn->name = a->name;
      dyn->dry_run = a->dry_run;
      dyn->coherence = *coherence;
      dyn->gptq = gptq;
      run_quantize_dynamic(*dyn, *opts);
      return;
    }
    check_quantize_quality_args(dyn->quality);
    if (dyn->dyn.o_bpw->count() || dyn->dyn.o_size->count() || !dyn->dyn.profile.empty())
      throw CLI::ValidationError("--profile/--target-bpw/--target-size", "apply to -q dynamic only");
    GgufExportOptions eo;
    eo.quant = quant_options(*a);
    eo.dry_run = a->dry_run;
    eo.model_name = a->name;
    eo.output = a->output.empty() ? default_gguf_output_path(a->model, eo.quant.preset) : a->output;
    if (!a->imatrix.empty()) {
      // llama.cpp's imatrix file (GGUF or legacy .dat), keyed by GGUF tensor name.
      auto imatrix = std::make_shared<ImatrixFile>(open_imatrix_for_model(a->imatrix, a->model));
      eo.importance = [imatrix](const std::string& name, int expert) { return imatrix->importance(name, expert); };
    }
    std::vector<std::string> notes;
    if (gptq.enabled) eo.gptq = make_gguf_gptq(a->model, gptq.calibration, gptq.windows, gptq.gptq, &notes);
    for (const std::string& n : notes)
      if (!opts->quiet) std::fprintf(stderr, "note: %s\n", n.c_str());
    // One step per tensor; the count is known once the plan is made.
    std::unique_ptr<Progress> per_tensor;
    GgufExportResult r = export_gguf(a->model, eo, [&](size_t, size_t total, const GgufTensorResult& t) {
      if (!per_tensor) per_tensor = std::make_unique<Progress>("quantize", total, !a->dry_run, "tensors");
      per_tensor->update(1, fmt::format("{} {}", t.name, ggml::type_name(t.type)));
    });
    if (per_tensor) per_tensor->finish();
    if (!Cluster::get().is_root()) return;  // rank 0 wrote the file and reports
    const auto coherent = a->dry_run ? std::nullopt : run_coherence_check(*coherence, a->model, eo.output);
    std::vector<QualityRow> rows;
    if (dyn->quality.enabled && !a->dry_run)
      rows = quantize_quality_rows(a->model, eo.output, dyn->quality, !opts->json() && !opts->quiet);
    if (opts->json()) {
      nlohmann::json j = result_json(r);
      if (eo.gptq) j["gptq"] = gptq_report_json(r, *eo.gptq, notes);
      if (!rows.empty()) j["quality"] = rows_to_json(rows);
      if (coherent) j["coherence"] = coherence_json(*coherent);
      print_json(j);
    } else {
      print_text(r);
      if (eo.gptq) print_gptq_report(r, *eo.gptq);
      if (!rows.empty()) fmt::print("{}", format_quality_table(rows));
      if (coherent) print_coherence(*coherent);
    }
    if (coherent) enforce_coherence(*coherent, eo.output);
  });
}

}  // namespace llmq::cli
