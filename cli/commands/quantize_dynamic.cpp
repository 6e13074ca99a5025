#include "quantize_dynamic.h"

#include <cstdio>
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "calibration/imatrix_file.h"
#include "calibration/model_fingerprint.h"
#include "distributed/cluster.h"
#include "export/gguf/gguf_exporter.h"
#include "export/gguf/gguf_gptq.h"
#include "gguf_gptq_report.h"
#include "io/gguf/gguf_tensor_info.h"
#include "io/model_locator.h"
#include "mixed/dynamic_quantize.h"
#include "util/atomic_output.h"
#include "util/error.h"
#include "util/progress.h"

namespace fs = std::filesystem;

namespace llmq::cli {

namespace {

using ggml::GgmlType;

std::string default_output(const std::string& model, const DynamicProfile& p) {
  fs::path dir = fs::path(model_output_base(model)).lexically_normal();  // a cache snapshot: ./<name>
  if (dir.filename().empty()) dir = dir.parent_path();
  const std::string what = p.target_bytes ? fmt::format("{}B", *p.target_bytes)
                           : p.target_bpw ? fmt::format("{:.2f}bpw", *p.target_bpw)
                                          : p.name;
  return (dir.parent_path() / (dir.filename().string() + "-dynamic-" + what + ".gguf")).string();
}

std::string layer_of(const std::string& name) {
  int l = -1;
  return std::sscanf(name.c_str(), "blk.%d.", &l) == 1 ? std::to_string(l) : "";
}

nlohmann::json plan_json(const DynamicPlan& plan, const DynamicProfile& p) {
  const AllocationResult& a = plan.allocation;
  nlohmann::json tensors = nlohmann::json::array();
  for (const TensorAllocation& t : a.tensors) {
    nlohmann::json j = {{"name", t.name}, {"type", ggml::type_name(t.type)}, {"bytes", t.bytes}, {"bpw", t.bpw()},
                        {"allocated", t.allocated}};
    if (t.allocated) j["sensitivity"] = t.sensitivity;
    else j["reason"] = t.reason;
    tensors.push_back(j);
  }
  nlohmann::json j = {{"profile", p.name},
                      {"sensitivity_mode", sensitivity_mode_name(plan.sensitivity_mode)},
                      {"resolved_profile", plan.resolved_profile},
                      {"budget", a.budget.describe()},
                      {"target_bytes", a.target_bytes},
                      {"used_bytes", a.used_bytes},
                      {"budget_use", a.budget_use()},
                      {"tensor_bytes", a.tensor_bytes},
                      {"predicted_file_bytes", a.file_bytes},
                      {"bits_per_weight", a.bpw()},
                      {"sensitivity_sum", a.sensitivity},
                      {"lower_bound", a.lower_bound},
                      {"exact", a.exact},
                      {"saturated", a.saturated},
                      {"tensors", tensors}};
  if (plan.sensitivity)
    j["sensitivity_run"] = {{"measured", plan.sensitivity->measured}, {"reused", plan.sensitivity->reused},
                            {"seconds", plan.sensitivity->seconds}, {"cache", plan.sensitivity_cache}};
  if (!plan.expert_tiers.empty()) {
    j["experts"] = {{"granularity", "per layer (GGUF stacks the experts of a layer in one tensor)"}};
    nlohmann::json layers = nlohmann::json::array();
    for (const LayerExpertPlan& l : plan.expert_tiers) {
      nlohmann::json tiers = nlohmann::json::array(), types = nlohmann::json::array();
      for (size_t e = 0; e < l.tiers.size(); ++e) {
        tiers.push_back(expert_tier_name(l.tiers[e]));
        types.push_back(ggml::type_name(l.types[e]));
      }
      nlohmann::json stacked = nlohmann::json::object();
      for (const TensorAllocation& t : a.tensors)
        if (layer_of(t.name) == std::to_string(l.layer) && t.name.find("_exps.") != std::string::npos)
          stacked[t.name] = ggml::type_name(t.type);
      layers.push_back({{"layer", l.layer}, {"routing_counts", l.counts}, {"tiers", tiers}, {"per_expert_types", types},
                        {"per_expert_mean_bpw", l.mean_bpw}, {"per_expert_routed_bpw", l.routed_bpw},
                        {"gguf_types", stacked}});
    }
    j["experts"]["layers"] = layers;
  }
  if (!plan.super_weights_file.empty()) {
    nlohmann::json prot = nlohmann::json::array();
    for (const ProtectedTensor& t : plan.protected_tensors)
      prot.push_back({{"tensor", t.name}, {"type", ggml::type_name(t.type)},
                      {"unprotected_type", ggml::type_name(t.unprotected_type)}, {"extra_bytes", t.extra_bytes},
                      {"super_weights", t.weights.size()}});
    j["super_weight_protection"] = {{"file", plan.super_weights_file}, {"tensors", prot},
                                    {"sensitivity_cost", plan.protection_sensitivity_cost}};
  }
  if (plan.preset_check) {
    nlohmann::json presets = nlohmann::json::array();
    for (const PresetScore& s : plan.preset_check->scores) {
      nlohmann::json e = {{"preset", preset_info(s.preset).name}, {"comparable", s.comparable}};
      if (s.comparable) e.update({{"file_bytes", s.file_bytes}, {"sensitivity_sum", s.sensitivity}});
      else e["why_not"] = s.why_not;
      presets.push_back(e);
    }
    j["llama_cpp_presets"] = presets;
    j["adopted_preset"] = plan.preset_check->adopted ? nlohmann::json(preset_info(*plan.preset_check->adopted).name)
                                                     : nlohmann::json(nullptr);
  }
  return j;
}

void print_plan(const DynamicPlan& plan, const DynamicProfile& p, bool per_tensor) {
  const AllocationResult& a = plan.allocation;
  if (plan.preset_check && plan.preset_check->adopted)
    fmt::print("llama.cpp's {} preset fits the budget and scores lower on the same measure than the allocation did: "
               "its types are used\n",
               preset_info(*plan.preset_check->adopted).name);
  if (per_tensor)
    for (const TensorAllocation& t : a.tensors)
      fmt::print("{:<32} {:<7} {:>9.3f} MiB {:>6.2f} bpw  {}\n", t.name, ggml::type_name(t.type),
                 double(t.bytes) / 1048576.0, t.bpw(),
                 t.allocated ? fmt::format("sensitivity {:.4g}", t.sensitivity) : "(" + t.reason + ")");
  std::map<GgmlType, std::pair<int, uint64_t>> hist;
  for (const TensorAllocation& t : a.tensors)
    if (ggml::block_size(t.type) > 1) ++hist[t.type].first, hist[t.type].second += t.bytes;
  std::string mix;
  for (const auto& [t, v] : hist)
    mix += fmt::format("{}{} x{} ({:.2f} MiB)", mix.empty() ? "" : ", ", ggml::type_name(t), v.first,
                       double(v.second) / 1048576.0);
  fmt::print("types: {}\n", mix);
  if (plan.resolved_profile) {
    fmt::print("profile {}: types as resolved in the profile; {:.3f} bits/weight, file {} bytes\n", p.name, a.bpw(),
               a.file_bytes);
    return;
  }
  fmt::print("budget {} (profile {}): {:.3f} bits/weight, file {} bytes; {:.2f}% of the budget{}\n", a.budget.describe(),
             p.name, a.bpw(), a.file_bytes, 100.0 * a.budget_use(),
             a.saturated ? " (every tensor is at its largest candidate type)" : "");
  fmt::print("allocation: {} of the {} sensitivities, sum {:.6g} (Lagrangian lower bound {:.6g})\n",
             a.exact ? "exact optimum" : "near-optimal (coarse cost units)",
             sensitivity_mode_name(plan.sensitivity_mode), a.sensitivity, a.lower_bound);
  if (plan.sensitivity)
    fmt::print("sensitivity: {} measured, {} reused from {} in {:.1f} s{}\n", plan.sensitivity->measured,
               plan.sensitivity->reused, plan.sensitivity_cache.empty() ? "(no cache)" : plan.sensitivity_cache,
               plan.sensitivity->seconds,
               plan.sensitivity->cache_note.empty() ? "" : " (cache " + plan.sensitivity->cache_note + ")");
  if (!plan.expert_tiers.empty()) {
    fmt::print("MoE experts: GGUF stacks the experts of a layer in one tensor per projection (ffn_*_exps) with one "
               "type, so the allocation is per layer; experts are weighted by their routing counts. Per-expert plan "
               "(hot = top {:.0f}% by routed tokens) for formats that store experts separately:\n",
               100.0 * p.experts.hot_fraction);
    for (const LayerExpertPlan& l : plan.expert_tiers) {
      std::string hot, cold, stacked;
      for (size_t e = 0; e < l.tiers.size(); ++e) {
        if (l.tiers[e] == ExpertTier::Hot) hot += fmt::format("{}{}({})", hot.empty() ? "" : " ", e, l.counts[e]);
        if (l.tiers[e] == ExpertTier::Cold) cold += fmt::format("{}{}", cold.empty() ? "" : " ", e);
      }
      for (const TensorAllocation& t : a.tensors)
        if (layer_of(t.name) == std::to_string(l.layer) && t.name.find("_exps.") != std::string::npos)
          stacked += fmt::format("{}{} {}", stacked.empty() ? "" : ", ", t.name.substr(t.name.find('.', 4) + 1),
                                 ggml::type_name(t.type));
      fmt::print("  layer {:>3}: GGUF {} | hot experts {} | cold {} | per-expert plan {:.2f} bpw mean, {:.2f} bpw routed\n",
                 l.layer, stacked, hot.empty() ? "-" : hot, cold.empty() ? "-" : cold, l.mean_bpw, l.routed_bpw);
    }
  }
  if (!plan.super_weights_file.empty()) {
    if (plan.protected_tensors.empty()) fmt::print("super weights: none listed in {}; nothing protected\n", plan.super_weights_file);
    int64_t extra = 0;
    for (const ProtectedTensor& t : plan.protected_tensors) {
      extra += t.extra_bytes;
      fmt::print("protected {} at {} ({} super weight(s); {} without protection): {:+} bytes\n", t.name,
                 ggml::type_name(t.type), t.weights.size(), ggml::type_name(t.unprotected_type), t.extra_bytes);
    }
    if (!plan.protected_tensors.empty())
      fmt::print("super-weight protection cost: {:+} bytes on the protected tensors (taken from the others within the "
                 "same budget); summed sensitivity {:+.4g}\n",
                 extra, plan.protection_sensitivity_cost);
  }
}

// llama-quantize's --tensor-type-file: whitespace-separated PATTERN=type, the
// first regex found in the tensor name wins; anchored exact names here.
void write_llama_tensor_types(const std::string& path, const std::map<std::string, GgmlType>& types) {
  std::string text;
  for (const auto& [name, type] : types) {
    std::string re = "^";
    for (char c : name) re += c == '.' ? std::string("\\.") : std::string(1, c);
    std::string t = ggml::type_traits(type)->name;  // ggml's spelling, e.g. q4_K
    text += re + "$=" + t + "\n";
  }
  AtomicOutputFile out(path);
  out.write(text.data(), text.size());
  out.commit();
}

}  // namespace

void run_quantize_dynamic(const QuantizeDynamicArgs& a, const CommonOptions& opts) {
  check_quantize_quality_args(a.quality);
  DynamicProfile profile = resolve_profile(a.dyn, a.dyn.profile);
  DynamicQuantOptions o;
  apply_run_options(a.dyn, o);
  o.imatrix_path = a.imatrix.empty() ? profile.imatrix : a.imatrix;
  o.profile = profile;
  const std::string output = a.output.empty() ? default_output(a.model, profile) : a.output;
  if (!a.dry_run) ensure_not_same_path(output, a.model);

  Cluster& cluster = Cluster::get();
  const TensorCatalog catalog(a.model, a.name);
  GgufExportOptions eo;
  std::unique_ptr<Progress> bar;
  o.progress = [&](size_t done, size_t total, const std::string& name) {
    if (!bar) bar = std::make_unique<Progress>(std::string("sensitivity (") + sensitivity_mode_name(resolve_sensitivity_mode(profile, a.model, o.sensitivity_data)) + ")", total, true, "tensors");
    bar->update(1, name);
    if (done == total) {  // hybrid mode runs two passes, each with its own bar
      bar->finish();
      bar.reset();
    }
  };
  // Every rank of a distributed job measures its share of the sensitivities and plans from the same table.
  const DynamicPlan plan = plan_dynamic(catalog, o);
  nlohmann::json out;
  if (cluster.is_root()) {
    if (!a.dyn.llama_tensor_types.empty()) write_llama_tensor_types(a.dyn.llama_tensor_types, plan.tensor_types());
    out = plan_json(plan, profile);
    out["model"] = a.model;
    out["dry_run"] = a.dry_run;
  }
  if (a.dry_run) {
    if (!cluster.is_root()) return;
    if (opts.json()) print_json(out);
    else {
      print_plan(plan, profile, true);
      fmt::print("dry run: nothing written\n");
    }
    return;
  }
  eo.quant.preset = preset_for_mixture(plan.allocation);
  eo.quant.tensor_type_by_name = plan.tensor_types();
  share_gguf_plan(eo.quant, cluster);  // the plans agree; rank 0's is the one written, so every rank encodes to it
  eo.output = output;
  eo.model_name = a.name;
  std::shared_ptr<ImatrixFile> imatrix;
  if (!o.imatrix_path.empty()) {
    imatrix = std::make_shared<ImatrixFile>(open_imatrix_for_model(o.imatrix_path, a.model, catalog.config().n_experts));
    eo.importance = [imatrix](const std::string& name, int expert) { return imatrix->importance(name, expert); };
  }
  std::vector<std::string> gptq_notes;
  if (a.gptq.enabled) eo.gptq = make_gguf_gptq(a.model, a.gptq.calibration, a.gptq.windows, a.gptq.gptq, &gptq_notes);
  std::unique_ptr<Progress> per_tensor;
  const GgufExportResult r = export_gguf(a.model, eo, [&](size_t, size_t total, const GgufTensorResult& t) {
    if (!per_tensor) per_tensor = std::make_unique<Progress>("quantize", total, true, "tensors");
    per_tensor->update(1, fmt::format("{} {}", t.name, ggml::type_name(t.type)));
  });
  if (per_tensor) per_tensor->finish();
  if (!cluster.is_root()) return;  // rank 0 wrote the file and reports
  if (r.file_bytes != plan.allocation.file_bytes && !opts.quiet)
    std::fprintf(stderr, "warning: %s has %zu bytes; the plan predicted %llu\n", output.c_str(), r.file_bytes,
                 (unsigned long long)plan.allocation.file_bytes);
  out["output"] = output;
  out["file_bytes"] = r.file_bytes;
  if (eo.gptq) out["gptq"] = gptq_report_json(r, *eo.gptq, gptq_notes);
  out["seconds"] = r.seconds;

  std::vector<QualityRow> rows;
  if (a.quality.enabled) rows = quantize_quality_rows(a.model, output, a.quality, !opts.json() && !opts.quiet);
  const auto coherent = run_coherence_check(a.coherence, a.model, output);
  if (opts.json()) {
    if (!rows.empty()) out["quality"] = rows_to_json(rows);
    if (coherent) out["coherence"] = coherence_json(*coherent);
    print_json(out);
  } else {
    print_plan(plan, profile, false);
    fmt::print("wrote {}: {:.2f} MiB, {:.3f} bits/weight, {} tensors, {:.1f} s\n", output,
               double(r.file_bytes) / 1048576.0, r.bpw(), r.tensors.size(), r.seconds);
    if (eo.gptq) print_gptq_report(r, *eo.gptq);
    if (!rows.empty()) fmt::print("{}", format_quality_table(rows));
    if (coherent) print_coherence(*coherent);
  }
  if (coherent) enforce_coherence(*coherent, output);
}

}  // namespace llmq::cli
