#include "export/hf/lowbit_pipeline.h"

#include <chrono>
#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "distributed/cluster.h"
#include "export/hf/ct_lowbit_writer.h"
#include "export/hf/hf_tensor_encoders.h"
#include "export/hf/streamed_layers.h"
#include "model/layer_residency.h"
#include "model/model_loader.h"
#include "tokenizer/tokenizer.h"
#include "util/atomic_output.h"
#include "util/error.h"
#include "util/output_guard.h"

namespace fs = std::filesystem;

namespace llmq {

nlohmann::json lowbit_outcome_json(const LowbitQuantizeOutcome& r) {
  nlohmann::json j = r.report;
  j.update({{"quantized_linears", r.quantized_linears}, {"bytes", r.bytes}, {"source_bytes", r.source_bytes}});
  j.update({{"calibration_windows", r.calibration_windows}, {"calibration_tokens", r.calibration_tokens}});
  j.update({{"seconds", r.seconds}, {"warnings", r.warnings}, {"resumed_layers", r.resumed_layers}});
  return j;
}

std::string default_lowbit_output(const LowbitQuantizeJob& job) {
  std::string base = fs::path(job.model_dir).lexically_normal().string();
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  return base + "-" + job.scheme.name();
}

namespace {

std::string job_fingerprint(const LowbitQuantizeJob& job, const std::vector<std::vector<int32_t>>& windows) {
  const LowbitScheme& s = job.scheme;
  const nlohmann::json j = {{"version", 1},
                            {"source", checkpoint_identity(job.model_dir)},
                            {"scheme", {s.name(), int(s.weights), s.per_tensor_weights, int(s.acts), s.smooth, s.alpha,
                                        s.smooth_norms_only, s.kv_fp8, int(s.scale_rule), s.use_importance}},
                            {"windows", windows_hash(windows)}};
  return fingerprint_hash(j.dump());
}

}  // namespace

LowbitQuantizeOutcome run_lowbit_quantize(const LowbitQuantizeJob& job_in, const LinearProgressFn& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  LowbitQuantizeJob job = job_in;
  if (job.output_dir.empty()) job.output_dir = default_lowbit_output(job);
  ensure_not_same_path(job.output_dir, job.model_dir);
  if (job.checkpoint_dir.empty()) job.checkpoint_dir = default_checkpoint_dir(job.output_dir);
  ensure_not_same_path(job.checkpoint_dir, job.model_dir);
  check_output_path(job.output_dir, {job.checkpoint_dir});
  check_output_dir_target(job.output_dir);  // an existing -o fails now, not after hours of work
  if (!fs::is_directory(job.model_dir) || !fs::exists(fs::path(job.model_dir) / "config.json"))
    throw file_error(job.model_dir, "not a Hugging Face model directory (no config.json)");
  if (!(job.scheme.alpha >= 0.0f && job.scheme.alpha <= 1.0f)) fail("--alpha must lie in [0, 1], got {}", job.scheme.alpha);

  // Find the calibration text before loading anything.
  const std::string calib_path = job.scheme.needs_calibration()
                                     ? calibration_path_or_default(job.calibration_path, job.model_dir, job.scheme.name())
                                     : job.calibration_path;

  LoadedModel m = load_hf_model(job.model_dir, {.lazy = true});
  const DType float_dt = unquantized_dtype(HfQuantFormat::CompressedTensors, m.weights->source_dtype);
  LowbitQuantizeOutcome out;
  std::vector<std::vector<int32_t>> windows;
  if (job.scheme.needs_calibration()) {
    CalibrationWindows cw = read_calibration_windows(calib_path, *m.tokenizer, job.windows, out.warnings);
    out.calibration_windows = int64_t(cw.windows.size());
    out.calibration_tokens = cw.tokens();
    windows = std::move(cw.windows);
  }

  if (!Cluster::get().is_root()) {  // calibrates its windows for rank 0, writes nothing
    quantize_model_lowbit(*m.weights, windows, job.scheme);
    return out;
  }

  // A layer at a time: each finished layer's checkpoint tensors go to the spill, then leave memory.
  LayerSpill spill(job.checkpoint_dir, job_fingerprint(job, windows), job.restart);
  const int n_layers = int(m.weights->cfg.n_layers);
  LowbitLayerStream stream;
  stream.first_layer = resume_layer(spill, false, n_layers, stream.states);
  out.resumed_layers = stream.first_layer;
  check_outer_tensors_finite(*m.weights, job.model_dir);
  stream.layer_ready = [&](int l, ModelWeights& w) { check_layer_finite(w, l, job.model_dir); };
  stream.layer_done = [&](int l, LowbitModel& qm, const WindowStates*) {
    std::vector<OutTensor> tensors;
    nlohmann::json quantized = nlohmann::json::array();
    for (const NamedTensor& nt : layer_tensors(*qm.weights, l)) {
      auto it = qm.linears.find(nt.name);
      append_lowbit_tensors(nt, it == qm.linears.end() ? nullptr : &it->second, qm.scheme, float_dt, tensors);
      if (it != qm.linears.end()) quantized.push_back(nt.name);
    }
    spill.put_layer(l, tensors, {{"quantized", quantized}});
  };
  LowbitModel qm = quantize_model_lowbit(*m.weights, windows, job.scheme, progress, &stream);

  std::set<std::string> quantized;
  for (int l = 0; l < n_layers; ++l) {
    const nlohmann::json rec = spill.layer_record(l);
    for (const auto& name : rec.at("quantized")) quantized.insert(name.get<std::string>());
  }
  std::vector<OutTensor> tensors = tensors_with_spilled_layers(
      *qm.weights, spill, [&](const NamedTensor& nt, std::vector<OutTensor>& v) { append_lowbit_tensors(nt, nullptr, qm.scheme, float_dt, v); });
  append_kv_scales(qm, tensors);
  const HfQuantWriteResult wr = write_lowbit_files(*qm.weights, tensors, quantized, qm.scheme, job.model_dir, job.output_dir);
  spill.remove();

  out.output_dir = wr.dir;
  out.quantized_linears = wr.quantized_linears;
  out.bytes = wr.bytes;
  out.source_bytes = m.file_bytes;
  out.report = qm.report;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace llmq
