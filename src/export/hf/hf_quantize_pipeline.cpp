#include "export/hf/hf_quantize_pipeline.h"

#include <chrono>
#include <memory>
#include <filesystem>
#include <utility>

#include <fmt/format.h>

#include "calibration/window_blocks.h"
#include "distributed/cluster.h"
#include "export/hf/hf_quant_writer.h"
#include "export/hf/layer_linears.h"
#include "export/hf/layer_spill.h"
#include "export/hf/rank_states.h"
#include "export/hf/streamed_layers.h"
#include "model/layer_residency.h"
#include "model/model_loader.h"
#include "tokenizer/tokenizer.h"
#include "util/atomic_output.h"
#include "util/error.h"
#include "util/output_guard.h"

namespace fs = std::filesystem;

namespace llmq {

std::string default_hf_quant_output(const HfQuantizeJob& job) {
  std::string base = fs::path(job.model_dir).lexically_normal().string();
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  const IntQuantSpec& s = job.quant.spec;
  return fmt::format("{}-{}-w{}{}-{}", base, int_quant_method_name(job.quant.method), s.bits,
                     s.group_size < 0 ? std::string("pc") : fmt::format("g{}", s.group_size), hf_quant_format_name(job.format));
}

namespace {

// Everything that changes the output: a checkpoint made under other options is not resumed.
std::string job_fingerprint(const HfQuantizeJob& job, const std::vector<std::vector<int32_t>>& windows) {
  const IntQuantizeOptions& q = job.quant;
  const GptqOptions& g = q.gptq;
  const AwqOptions& a = q.awq;
  nlohmann::json j = {
      {"version", 1},
      {"source", checkpoint_identity(job.model_dir)},
      {"format", hf_quant_format_name(job.format)},
      {"method", int_quant_method_name(q.method)},
      {"spec", {q.spec.bits, q.spec.group_size, q.spec.sym, q.spec.zero_min, int(q.spec.scale_storage)}},
      {"gptq", {g.damp_percent, g.block_size, g.desc_act, g.static_groups, g.clip_search, g.clip_grid, g.clip_min_ratio}},
      {"awq", {a.grid, a.duo_scaling, a.clip, a.clip_grid, a.clip_min_ratio}},
      {"sequential", {q.sequential, q.true_sequential, q.min_expert_tokens}},
      {"ignore", q.ignore},
      {"linear_bits", q.linear_bits},
      {"windows", windows_hash(windows)}};
  return fingerprint_hash(j.dump());
}

// Appends what the layer record holds to the outcome's report, fallbacks and warnings.
void merge_record(const nlohmann::json& rec, nlohmann::json& report, std::vector<std::string>& fallbacks,
                  std::vector<std::string>& warnings) {
  if (rec.contains("report") && rec["report"].is_object()) report.update(rec["report"], true);
  for (const auto& f : rec.value("rtn_fallbacks", nlohmann::json::array())) fallbacks.push_back(f.get<std::string>());
  for (const auto& w : rec.value("warnings", nlohmann::json::array())) warnings.push_back(w.get<std::string>());
}

// The sizes of the hidden states this rank carries (its GPTQ windows).
std::vector<int64_t> own_window_values(const ModelWeights& w, const std::vector<std::vector<int32_t>>& windows,
                                       const Cluster& cluster) {
  const WindowBlocks blocks(int64_t(windows.size()), kGptqWindowsPerBlock);
  const auto [first, end] = windows_of_rank(blocks, 0, cluster.rank(), cluster.size());
  std::vector<int64_t> v;
  for (int64_t i = first; i < end; ++i) v.push_back(int64_t(windows[size_t(i)].size()) * w.cfg.hidden);
  return v;
}

// A rank other than 0 of a distributed job: the same layer walk on its own
// calibration windows, its layers handed to nobody (rank 0 writes them).
HfQuantizeOutcome quantize_on_other_rank(const HfQuantizeJob& job, LoadedModel& m,
                                         const std::vector<std::vector<int32_t>>& windows, bool carries_states,
                                         Cluster& cluster) {
  IntLayerStream stream;
  int first = 0;
  if (carries_states)
    first = resume_rank_states(job.checkpoint_dir, cluster, 0, own_window_values(*m.weights, windows, cluster), stream.states);
  stream.first_layer = int(cluster.broadcast(int64_t(first), 0));  // rank 0 knows where a resumed run stands
  stream.layer_ready = [&](int l, ModelWeights& w) { check_layer_finite(w, l, job.model_dir); };
  // Rank 0 decides when states are saved; each rank writes its own.
  stream.layer_done = [&](int l, QuantizedModel&, const WindowStates* next) {
    if (next) save_rank_states(job.checkpoint_dir, cluster, false, l + 1, *next);
  };
  quantize_model_int(*m.weights, windows, job.quant, {}, &stream);
  return {};
}

}  // namespace

HfQuantizeOutcome run_hf_quantize(const HfQuantizeJob& job_in, const LayerProgressFn& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  HfQuantizeJob job = job_in;
  const bool act_order = job.quant.method == IntQuantMethod::Gptq && job.quant.gptq.desc_act;
  job.quant.spec = spec_for_format(job.format, job.quant.spec, job.quant.gptq, act_order);
  check_linear_bits_for_format(job.format, job.quant.linear_bits);
  if (job.output_dir.empty()) job.output_dir = default_hf_quant_output(job);
  ensure_not_same_path(job.output_dir, job.model_dir);
  if (job.checkpoint_dir.empty()) job.checkpoint_dir = default_checkpoint_dir(job.output_dir);
  ensure_not_same_path(job.checkpoint_dir, job.model_dir);
  check_output_path(job.output_dir, {job.checkpoint_dir});  // the output may not land in (or on) the checkpoint
  check_output_dir_target(job.output_dir);  // an existing -o fails now, not after hours of work
  const IgnoreList check_patterns(job.quant.ignore);  // a bad pattern fails before any long work
  std::map<std::string, std::vector<SuperWeight>> protect;
  if (!job.super_weights_file.empty()) protect = read_protected_linears(job.super_weights_file);
  if (job.max_shard_bytes == 0) fail("the shard size must be positive");
  if (!fs::is_directory(job.model_dir) || !fs::exists(fs::path(job.model_dir) / "config.json"))
    throw file_error(job.model_dir, "not a Hugging Face model directory (no config.json)");

  LoadedModel m = load_hf_model(job.model_dir, {.lazy = true});
  job.quant.spec = spec_for_source(job.format, job.quant.spec, m.weights->source_dtype);  // checked above; now the scale type
  const DType float_dt = unquantized_dtype(job.format, m.weights->source_dtype);
  HfQuantizeOutcome out;
  for (std::string& p : protection_patterns(protect, *m.weights, job.super_weights_file)) job.quant.ignore.push_back(p);
  if (!job.super_weights_file.empty())  // before quantization: AWQ rescales weights in place
    out.protection = describe_protection(job.super_weights_file, protect, *m.weights, job.format, job.quant);
  std::vector<std::vector<int32_t>> windows;
  if (job.quant.method != IntQuantMethod::Rtn) {
    const std::string path =
        calibration_path_or_default(job.calibration_path, job.model_dir, int_quant_method_name(job.quant.method));
    const CalibrationWindows cw = read_calibration_windows(path, *m.tokenizer, job.windows, out.warnings);
    out.calibration_windows = int64_t(cw.windows.size());
    out.calibration_tokens = cw.tokens();
    windows = cw.windows;
  }

  const int n_layers = int(m.weights->cfg.n_layers);
  const bool carries_states =
      job.quant.method == IntQuantMethod::Awq || (job.quant.method == IntQuantMethod::Gptq && job.quant.sequential);
  Cluster& cluster = Cluster::get();
  if (!cluster.is_root()) return quantize_on_other_rank(job, m, windows, carries_states, cluster);

  // A layer at a time: each finished layer's checkpoint tensors go to the spill, then leave memory.
  LayerSpill spill(job.checkpoint_dir, job_fingerprint(job, windows), job.restart);
  std::unique_ptr<SpillMemory> state_memory;  // declared before the stream: outlives every state
  const bool holds_states = job.quant.method != IntQuantMethod::Rtn;
  if (job.max_memory > 0 && holds_states) {
    constexpr int64_t kProgramReserve = int64_t(256) << 20;  // tokenizer, tiles, buffers
    const int64_t working = layer_working_bytes(*m.weights, job.quant.method);
    const int64_t budget = std::max<int64_t>(0, int64_t(job.max_memory) - working - kProgramReserve);
    if (budget == 0)
      out.warnings.push_back(fmt::format("--max-memory {:.2f} GB is below one layer's working memory ({:.2f} GB): every "
                                         "hidden state goes to disk and the peak stays above the limit",
                                         double(job.max_memory) / 1e9, double(working + kProgramReserve) / 1e9));
    state_memory = std::make_unique<SpillMemory>(budget, spill.dir());
    out.state_budget_bytes = budget;
  }
  IntLayerStream stream;
  stream.state_memory = state_memory.get();
  if (!cluster.single() && carries_states)  // each rank saved the states of its own windows
    stream.first_layer = resume_rank_states(spill.dir(), cluster, spill.finished_layers(),
                                            own_window_values(*m.weights, windows, cluster), stream.states);
  else  // (the one-process states file is not read at all then: it can be GBs)
    stream.first_layer = resume_layer(spill, carries_states, n_layers, stream.states);
  stream.first_layer = int(cluster.broadcast(stream.first_layer, 0));
  out.resumed_layers = stream.first_layer;
  check_outer_tensors_finite(*m.weights, job.model_dir);
  stream.layer_ready = [&](int l, ModelWeights& w) { check_layer_finite(w, l, job.model_dir); };
  StateSaveClock clock;
  stream.layer_done = [&](int l, QuantizedModel& qm, const WindowStates* next) {
    std::vector<OutTensor> tensors;
    nlohmann::json quantized = nlohmann::json::array();
    for (const NamedTensor& nt : layer_tensors(*qm.weights, l)) {
      auto it = qm.linears.find(nt.name);
      append_checkpoint_tensors(job.format, float_dt, nt, it == qm.linears.end() ? nullptr : &it->second, tensors);
      if (it != qm.linears.end()) quantized.push_back(nt.name);
    }
    const nlohmann::json rec = {{"quantized", quantized},
                                {"report", std::exchange(qm.report, nlohmann::json::object())},
                                {"rtn_fallbacks", std::exchange(qm.rtn_fallbacks, {})},
                                {"warnings", std::exchange(qm.warnings, {})}};
    spill.put_layer(l, tensors, rec);
    if (!next) return;
    if (cluster.single()) {
      if (clock.due(*next, l + 1 == n_layers)) spill.save_states(l + 1, *next);
    } else {
      save_rank_states(spill.dir(), cluster, clock.due(*next, l + 1 == n_layers), l + 1, *next);
    }
  };
  QuantizedModel qm = quantize_model_int(*m.weights, windows, job.quant, progress, &stream);
  if (state_memory) out.states_spilled_bytes = state_memory->peak_spilled_bytes();

  // Every layer's record, in layer order: which linears were quantized, and what was reported.
  nlohmann::json report = nlohmann::json::object();
  std::map<std::string, IntQuantSpec> quantized;
  for (int l = 0; l < n_layers; ++l) {
    const nlohmann::json rec = spill.layer_record(l);
    for (const auto& name : rec.at("quantized")) quantized.emplace(name.get<std::string>(), job.quant.spec_of(name.get<std::string>()));
    merge_record(rec, report, out.rtn_fallbacks, out.warnings);
  }
  merge_record({{"report", qm.report}, {"rtn_fallbacks", qm.rtn_fallbacks}, {"warnings", qm.warnings}}, report,
               out.rtn_fallbacks, out.warnings);

  const std::vector<OutTensor> tensors = tensors_with_spilled_layers(
      *qm.weights, spill, [&](const NamedTensor& nt, std::vector<OutTensor>& v) { append_checkpoint_tensors(job.format, float_dt, nt, nullptr, v); });
  const HfQuantWriteResult wr = write_hf_checkpoint(*qm.weights, tensors, quantized, qm.ignored, job.format, job.quant,
                                                    job.model_dir, job.output_dir, job.max_shard_bytes);
  spill.remove();

  out.output_dir = wr.dir;
  out.quantized_linears = wr.quantized_linears;
  out.files = wr.files;
  out.ignored = qm.ignored;
  out.bytes = wr.bytes;
  out.source_bytes = m.file_bytes;
  out.report = report;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace llmq
