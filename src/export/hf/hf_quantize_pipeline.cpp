#include "export/hf/hf_quantize_pipeline.h"

#include <chrono>
#include <filesystem>

#include <fmt/format.h>

#include "export/hf/hf_quant_writer.h"
#include "export/hf/layer_linears.h"
#include "model/model_loader.h"
#include "tokenizer/tokenizer.h"
#include "util/atomic_output.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace llmq {

std::string default_hf_quant_output(const HfQuantizeJob& job) {
  std::string base = fs::path(job.model_dir).lexically_normal().string();
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  const IntQuantSpec& s = job.quant.spec;
  return fmt::format("{}-{}-w{}{}-{}", base, int_quant_method_name(job.quant.method), s.bits,
                     s.group_size < 0 ? std::string("pc") : fmt::format("g{}", s.group_size), hf_quant_format_name(job.format));
}

HfQuantizeOutcome run_hf_quantize(const HfQuantizeJob& job_in, const LayerProgressFn& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  HfQuantizeJob job = job_in;
  const bool act_order = job.quant.method == IntQuantMethod::Gptq && job.quant.gptq.desc_act;
  job.quant.spec = spec_for_format(job.format, job.quant.spec, job.quant.gptq, act_order);
  check_linear_bits_for_format(job.format, job.quant.linear_bits);
  if (job.output_dir.empty()) job.output_dir = default_hf_quant_output(job);
  ensure_not_same_path(job.output_dir, job.model_dir);
  const IgnoreList check_patterns(job.quant.ignore);  // a bad pattern fails before any long work
  std::map<std::string, std::vector<SuperWeight>> protect;
  if (!job.super_weights_file.empty()) protect = read_protected_linears(job.super_weights_file);
  if (job.max_shard_bytes == 0) fail("the shard size must be positive");
  if (!fs::is_directory(job.model_dir) || !fs::exists(fs::path(job.model_dir) / "config.json"))
    throw file_error(job.model_dir, "not a Hugging Face model directory (no config.json)");

  LoadedModel m = load_hf_model(job.model_dir);
  HfQuantizeOutcome out;
  for (std::string& p : protection_patterns(protect, *m.weights, job.super_weights_file)) job.quant.ignore.push_back(p);
  if (!job.super_weights_file.empty())  // before quantization: AWQ rescales weights in place
    out.protection = describe_protection(job.super_weights_file, protect, *m.weights, job.format, job.quant);
  std::vector<std::vector<int32_t>> windows;
  if (job.quant.method != IntQuantMethod::Rtn) {
    std::string path = job.calibration_path;
    if (path.empty()) {
      auto def = default_calibration_path(job.model_dir);
      if (!def) fail("{} needs calibration text: pass --calibration FILE", int_quant_method_name(job.quant.method));
      path = *def;
    }
    const CalibrationText text = read_calibration_text(path);
    const CalibrationWindows cw = select_windows(m.tokenizer->encode(text.text, false), job.windows);
    if (cw.windows.empty()) throw file_error(path, "calibration text yields no tokens");
    if (cw.fewer_than_requested())
      out.warnings.push_back(fmt::format("{}: only {} windows of {} tokens available (asked for {})", path,
                                         cw.windows.size(), job.windows.ctx, job.windows.samples));
    out.calibration_windows = int64_t(cw.windows.size());
    out.calibration_tokens = cw.tokens();
    windows = cw.windows;
  }

  QuantizedModel qm = quantize_model_int(*m.weights, windows, job.quant, progress);
  round_unquantized_to_format(qm, job.format);
  const HfQuantWriteResult wr = write_hf_quantized(qm, job.format, job.quant, job.model_dir, job.output_dir, job.max_shard_bytes);

  out.output_dir = wr.dir;
  out.quantized_linears = wr.quantized_linears;
  out.files = wr.files;
  out.ignored = qm.ignored;
  out.bytes = wr.bytes;
  out.source_bytes = m.file_bytes;
  out.rtn_fallbacks = qm.rtn_fallbacks;
  out.warnings.insert(out.warnings.end(), qm.warnings.begin(), qm.warnings.end());
  out.report = qm.report;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace llmq
