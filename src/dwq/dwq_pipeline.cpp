#include "dwq/dwq_pipeline.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "calibration/calibration_data.h"
#include "calibration/model_fingerprint.h"
#include "dwq/student.h"
#include "dwq/teacher_targets.h"
#include "export/hf/checkpoint_side_files.h"
#include "export/hf/hf_quant_writer.h"
#include "export/hf/hf_quantize_pipeline.h"
#include "export/hf/layer_spill.h"
#include "export/hf/streamed_layers.h"
#include "model/model_loader.h"
#include "tokenizer/tokenizer.h"
#include "util/atomic_output.h"
#include "util/error.h"
#include "util/json_file.h"
#include "util/output_guard.h"
#include "util/peak_memory.h"
#include "util/progress.h"

namespace fs = std::filesystem;

namespace llmq::dwq {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string default_targets_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return (fs::path(x) / "llm-quantize" / "dwq-targets").string();
  if (const char* h = std::getenv("HOME"); h && *h) return (fs::path(h) / ".cache" / "llm-quantize" / "dwq-targets").string();
  return (fs::temp_directory_path() / "llm-quantize-dwq-targets").string();
}

struct Sequences {
  std::vector<std::vector<int32_t>> train, valid;
};

// Whole windows of max_seq_length tokens, a seeded sample of them; the last
// `valid_samples` held out. A text shorter than one window is refused.
Sequences make_sequences(const DwqJob& job, const std::string& path, Tokenizer& tok, std::vector<std::string>& warnings) {
  const CalibrationText text = read_calibration_text(path);
  const std::vector<int32_t> tokens = tok.encode(text.text, false);
  if (int64_t(tokens.size()) < job.max_seq_length)
    throw file_error(path, fmt::format("has {} tokens, shorter than one training sequence of {} (--max-seq-length)",
                                       tokens.size(), job.max_seq_length));
  WindowOptions wo;
  wo.samples = job.num_samples + job.valid_samples;
  wo.ctx = job.max_seq_length;
  wo.seed = job.seed;
  CalibrationWindows cw = select_windows(tokens, wo);
  int64_t avail = int64_t(cw.windows.size());
  int64_t valid = std::min(job.valid_samples, avail / 4);  // at most a quarter held out
  if (avail >= 2 && valid < 1) valid = 1;
  Sequences s;
  const int64_t train = std::min(job.num_samples, avail - valid);
  for (int64_t i = 0; i < train; ++i) s.train.push_back(std::move(cw.windows[size_t(i)]));
  for (int64_t i = avail - valid; i < avail; ++i) s.valid.push_back(std::move(cw.windows[size_t(i)]));
  if (s.valid.empty()) {
    warnings.push_back(fmt::format("{}: one sequence of {} tokens only; the validation loss is measured on it too", path,
                                   job.max_seq_length));
    s.valid = s.train;
  }
  if (int64_t(s.train.size()) < job.num_samples)
    warnings.push_back(fmt::format("{}: {} training sequences of {} tokens available (asked for {})", path, s.train.size(),
                                   job.max_seq_length, job.num_samples));
  return s;
}

// The initial quantization in the checkpoint folder, made once: reused while
// its recorded job (method, bits, group, data) is the same.
std::string initial_quantization(const DwqJob& job, const std::string& data_path, const std::string& ckpt, bool* reused) {
  const std::string dir = (fs::path(ckpt) / "init").string();
  const std::string stamp_path = (fs::path(ckpt) / "init-job.json").string();
  const nlohmann::json stamp = {{"model", checkpoint_identity(job.model_dir)}, {"method", int_quant_method_name(job.init)},
                                {"bits", job.bits}, {"group_size", job.group_size}, {"data", data_path}};
  *reused = false;
  if (!job.restart && fs::exists(fs::path(dir) / "config.json") && fs::exists(stamp_path)) {
    try {
      if (read_json_file(stamp_path) == stamp) {
        *reused = true;
        return dir;
      }
    } catch (const Error&) {
    }
  }
  std::error_code ec;
  fs::remove_all(dir, ec);  // ours: the folder lies in our checkpoint folder
  fs::remove(stamp_path, ec);
  HfQuantizeJob q;
  q.model_dir = job.model_dir;
  q.output_dir = dir;
  q.format = HfQuantFormat::Mlx;
  q.quant.method = job.init;
  q.quant.spec.bits = job.bits;
  q.quant.spec.group_size = job.group_size;
  q.quant.spec.sym = false;
  q.calibration_path = data_path;
  q.checkpoint_dir = (fs::path(ckpt) / "init.checkpoint").string();
  q.restart = job.restart;
  q.max_shard_bytes = job.max_shard_bytes;
  run_hf_quantize(q);
  write_json_file(stamp_path, stamp);
  return dir;
}

// The checkpoint folder is emptied and removed by this job: refuse one that
// holds anything we did not write (a --resume DIR pointing at a user's folder).
void check_checkpoint_folder(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const bool ours = name == "init" || name == "init.checkpoint" || name == "init-job.json" ||
                      name.starts_with("dwq-state.safetensors") || name.starts_with(".");
    if (!ours) throw file_error(dir, "holds " + name + ", which is not a DWQ checkpoint file; choose another --resume folder");
  }
}

std::string run_key_of(const DwqJob& job, const std::string& targets_file, const Sequences& s) {
  const nlohmann::json k = {{"targets", fs::path(targets_file).filename().string()},
                            {"train", s.train.size()},
                            {"valid", s.valid.size()},
                            {"init", int_quant_method_name(job.init)},
                            {"bits", job.bits},
                            {"group", job.group_size},
                            {"lr", job.train.learning_rate},
                            {"cosine", job.train.cosine},
                            {"iters", job.train.iters},
                            {"batch", job.train.batch_size},
                            {"temperature", job.train.temperature},
                            {"seed", job.train.seed},
                            {"eval", job.train.steps_per_eval}};
  return fingerprint_hash(k.dump());
}

}  // namespace

std::string default_dwq_output(const DwqJob& job) {
  std::string base = fs::path(job.model_dir).lexically_normal().string();
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  return fmt::format("{}-dwq-w{}g{}-mlx", base, job.bits, job.group_size);
}

DwqOutcome run_dwq(const DwqJob& job_in) {
  DwqJob job = job_in;
  if (job.bits < 2 || job.bits > 8) fail("--bits {}: DWQ trains MLX affine quantization of 2 to 8 bits", job.bits);
  if (job.group_size != 32 && job.group_size != 64 && job.group_size != 128)
    fail("--group-size {}: MLX quantizes in groups of 32, 64 or 128", job.group_size);
  if (job.max_seq_length < 2) fail("--max-seq-length must be at least 2");
  if (job.num_samples < 1) fail("--num-samples must be at least 1");
  if (job.train.learning_rate <= 0 || !std::isfinite(job.train.learning_rate)) fail("--learning-rate must be positive");
  if (job.train.temperature <= 0) fail("--temperature must be positive");
  if (job.train.steps_per_eval < 1) fail("--steps-per-eval must be at least 1");
  if (job.output_dir.empty()) job.output_dir = default_dwq_output(job);
  ensure_not_same_path(job.output_dir, job.model_dir);
  if (job.checkpoint_dir.empty()) job.checkpoint_dir = default_checkpoint_dir(job.output_dir);
  ensure_not_same_path(job.checkpoint_dir, job.model_dir);
  check_output_path(job.output_dir, {job.checkpoint_dir});
  check_output_path(job.checkpoint_dir);
  check_output_dir_target(job.output_dir);
  if (!fs::is_directory(job.model_dir) || !fs::exists(fs::path(job.model_dir) / "config.json"))
    throw file_error(job.model_dir, "not a Hugging Face model directory (no config.json)");
  std::string data_path = job.data_path;
  if (data_path.empty()) {
    auto def = default_calibration_path(job.model_dir);
    if (!def) fail("dwq needs training text: pass --data FILE");
    data_path = *def;
  }
  if (job.targets_dir.empty()) job.targets_dir = default_targets_dir();
  check_output_path(job.targets_dir);

  DwqOutcome out;
  LoadedModel teacher = load_hf_model(job.model_dir, {.lazy = true});
  const Sequences seqs = make_sequences(job, data_path, *teacher.tokenizer, out.warnings);
  out.train_sequences = int64_t(seqs.train.size());
  out.valid_sequences = int64_t(seqs.valid.size());
  out.seq_len = job.max_seq_length;

  check_checkpoint_folder(job.checkpoint_dir);
  fs::create_directories(job.checkpoint_dir);
  auto t0 = std::chrono::steady_clock::now();
  const std::string init_dir = initial_quantization(job, data_path, job.checkpoint_dir, &out.init_reused);
  out.init_seconds = seconds_since(t0);

  // Teacher targets: training and validation sequences in one cache file.
  std::vector<std::vector<int32_t>> all = seqs.train;
  all.insert(all.end(), seqs.valid.begin(), seqs.valid.end());
  out.targets_file =
      targets_cache_path(job.targets_dir, model_fingerprint(*teacher.weights), all, job.top_k, job.train.temperature);
  t0 = std::chrono::steady_clock::now();
  std::unique_ptr<Progress> tp;
  TeacherTargets both = teacher_targets(
      *teacher.weights, all, job.top_k, job.train.temperature, out.targets_file,
      [&](int64_t done, int64_t total) {
        if (!tp) tp = std::make_unique<Progress>("teacher logits", size_t(total), job.train.progress, "sequences");
        tp->update(1);
      },
      &out.targets_reused);
  if (tp) tp->finish();
  out.targets_seconds = seconds_since(t0);
  teacher = LoadedModel{};  // the teacher's weights are not needed any more
  const int64_t nt = int64_t(seqs.train.size());
  const TeacherTargets train_t = both.slice(0, nt), valid_t = both.slice(nt, int64_t(seqs.valid.size()));
  both = TeacherTargets{};

  Student student(init_dir);
  out.trainable_values = student.trainable_values();
  const std::string state = (fs::path(job.checkpoint_dir) / "dwq-state.safetensors").string();
  out.train = train(student, {seqs.train, train_t, seqs.valid, valid_t}, job.train,
                    job.restart ? state + ".restart" : state, run_key_of(job, out.targets_file, seqs));
  const MemoryPeak peak = peak_memory();
  out.peak_anonymous_mib = double(peak.anonymous_bytes) / 1048576.0;
  out.peak_resident_mib = double(peak.resident_bytes) / 1048576.0;
  if (out.train.best_step == 0)
    out.warnings.push_back("training never lowered the validation loss: the output keeps the initial quantization "
                           "(try another --learning-rate)");

  // The trained linears in MLX's layout; everything else as the initial quantization holds it.
  QuantizedModel qm;
  qm.weights = std::shared_ptr<ModelWeights>(&student.weights(), [](ModelWeights*) {});
  IntQuantizeOptions opt;
  opt.method = job.init;
  for (Trainable* t : student.trainables()) {
    const AffineLinear& a = t->a;
    QuantizedLinear q;
    IntQuantSpec spec;
    spec.bits = a.bits;
    spec.group_size = a.group;
    spec.sym = false;
    spec.scale_storage = a.storage == DType::BF16 ? ScaleStorage::BF16 : a.storage == DType::F32 ? ScaleStorage::F32 : ScaleStorage::F16;
    q.init(a.rows, a.cols, spec);
    q.q = a.q;
    q.scales = a.scales;
    for (float& s : q.scales) s = round_to(a.storage, s);
    q.biases = a.biases;
    for (float& b : q.biases) b = round_to(a.storage, b);
    opt.spec = spec;
    qm.linears.emplace(a.weight_name, std::move(q));
  }
  const HfQuantWriteResult w = write_hf_quantized(qm, HfQuantFormat::Mlx, opt, job.model_dir, job.output_dir, job.max_shard_bytes);
  out.output_dir = w.dir;
  out.bytes = w.bytes;
  out.quantized_linears = w.quantized_linears;
  std::error_code ec;
  fs::remove_all(job.checkpoint_dir, ec);  // committed: the resume state has done its work
  return out;
}

nlohmann::json DwqOutcome::to_json() const {
  nlohmann::json curve = nlohmann::json::array();
  for (const auto& [step, v] : train.valid_curve) curve.push_back({{"step", step}, {"valid_kl", v}});
  return {{"output", output_dir},
          {"bytes", bytes},
          {"quantized_linears", quantized_linears},
          {"trainable_values", trainable_values},
          {"train_sequences", train_sequences},
          {"valid_sequences", valid_sequences},
          {"seq_len", seq_len},
          {"init_reused", init_reused},
          {"targets_file", targets_file},
          {"targets_reused", targets_reused},
          {"init_seconds", init_seconds},
          {"targets_seconds", targets_seconds},
          {"train_seconds", train.seconds},
          {"tokens_per_second", train.tokens_per_second},
          {"peak_anonymous_mib", peak_anonymous_mib},
          {"peak_resident_mib", peak_resident_mib},
          {"steps_planned", train.steps_planned},
          {"steps_done", train.steps_done},
          {"resumed_at_step", train.resumed_at},
          {"stopped_early", train.stopped_early},
          {"best_step", train.best_step},
          {"initial_valid_kl", train.initial_valid},
          {"best_valid_kl", train.best_valid},
          {"valid_curve", curve},
          {"warnings", warnings}};
}

}  // namespace llmq::dwq
