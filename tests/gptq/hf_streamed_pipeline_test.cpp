// The quantize pipelines run a layer at a time on lazily loaded weights:
// each finished layer goes to the resume checkpoint and leaves memory, and
// the writer streams the layers back from there. The files must equal those
// of the in-memory path (whole model quantized, then written), a run stopped
// after some layers must resume from them to byte-identical output, and a
// checkpoint of another job must never be resumed.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "calibration/calibration_data.h"
#include "common/cached_model.h"
#include "common/fixtures.h"
#include "export/hf/ct_lowbit_writer.h"
#include "export/hf/hf_quant_writer.h"
#include "export/hf/hf_quantize_pipeline.h"
#include "export/hf/lowbit_pipeline.h"
#include "export/hf/model_quantizer.h"
#include "model/layer_residency.h"
#include "model/model_loader.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace llmq {
namespace {

namespace fs = std::filesystem;

// Every file under `dir` by relative path, with its bytes.
std::map<std::string, std::string> files_of(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = test::read_file(e.path().string());
  return out;
}

void expect_same_files(const std::string& a, const std::string& b) {
  const auto fa = files_of(a), fb = files_of(b);
  ASSERT_EQ(fa.size(), fb.size());
  for (const auto& [name, bytes] : fa) {
    ASSERT_TRUE(fb.count(name)) << name;
    EXPECT_TRUE(bytes == fb.at(name)) << name << " differs";
  }
}

// Equal JSON, numbers within a relative 1e-9: the lazy model's tiled products round differently
// from the dense model's in the last bits of statistics such as GPTQ's loss.
void expect_same_json(const nlohmann::json& a, const nlohmann::json& b, const std::string& at = "") {
  if (a.is_number() && b.is_number()) {
    EXPECT_NEAR(a.get<double>(), b.get<double>(), 1e-9 * std::max(1.0, std::fabs(b.get<double>()))) << at;
    return;
  }
  ASSERT_EQ(a.type(), b.type()) << at;
  if (a.is_object()) {
    ASSERT_EQ(a.size(), b.size()) << at;
    for (auto it = a.begin(); it != a.end(); ++it) {
      ASSERT_TRUE(b.contains(it.key())) << at << "/" << it.key();
      expect_same_json(it.value(), b.at(it.key()), at + "/" + it.key());
    }
  } else if (a.is_array()) {
    ASSERT_EQ(a.size(), b.size()) << at;
    for (size_t i = 0; i < a.size(); ++i) expect_same_json(a[i], b[i], at + "/" + std::to_string(i));
  } else {
    EXPECT_EQ(a, b) << at;
  }
}

// The windows run_hf_quantize / run_lowbit_quantize take from the calibration text.
std::vector<std::vector<int32_t>> pipeline_windows(const LoadedModel& m, const WindowOptions& w) {
  const CalibrationText text = read_calibration_text(test::data_file("calibration.txt"));
  return select_windows(m.tokenizer->encode(text.text, false), w).windows;
}

HfQuantizeJob job_for(IntQuantMethod method, HfQuantFormat format, const std::string& model, const std::string& out) {
  HfQuantizeJob j;
  j.model_dir = test::model_dir(model);
  j.output_dir = out;
  j.format = format;
  j.quant.method = method;
  j.calibration_path = test::data_file("calibration.txt");
  j.windows = {4, 64, 0};
  return j;
}

struct StopAfter {};  // thrown from the progress callback: a run that dies after some layers

TEST(StreamedPipeline, FilesEqualTheInMemoryWriter) {
  test::TempDir tmp;
  struct Case {
    IntQuantMethod method;
    HfQuantFormat format;
    const char* model;
  };
  for (const Case& c : {Case{IntQuantMethod::Gptq, HfQuantFormat::Gptq, "tiny-llama"},
                        Case{IntQuantMethod::Awq, HfQuantFormat::Awq, "tiny-llama"},
                        Case{IntQuantMethod::Rtn, HfQuantFormat::Mlx, "tiny-llama"},
                        Case{IntQuantMethod::Gptq, HfQuantFormat::CompressedTensors, "tiny-qwen3moe"}}) {
    const std::string name = std::string(c.model) + "-" + int_quant_method_name(c.method) + "-" + hf_quant_format_name(c.format);
    SCOPED_TRACE(name);
    HfQuantizeJob job = job_for(c.method, c.format, c.model, tmp / (name + "-streamed"));
    const HfQuantizeOutcome r = run_hf_quantize(job);
    EXPECT_EQ(r.resumed_layers, 0);
    EXPECT_FALSE(fs::exists(job.output_dir + ".checkpoint"));  // removed once the output is committed

    const LoadedModel& m = test::cached_model(c.model);  // dense fp32, the in-memory path
    IntQuantizeOptions o = job.quant;
    o.spec = spec_for_format(c.format, o.spec, o.gptq, false, m.weights->source_dtype);
    const auto windows = c.method == IntQuantMethod::Rtn ? std::vector<std::vector<int32_t>>{} : pipeline_windows(m, job.windows);
    QuantizedModel qm = quantize_model_int(*m.weights, windows, o);
    round_unquantized_to_format(qm, c.format);
    write_hf_quantized(qm, c.format, o, job.model_dir, tmp / (name + "-memory"));
    expect_same_files(job.output_dir, tmp / (name + "-memory"));
    expect_same_json(r.report, qm.report);
    EXPECT_EQ(r.rtn_fallbacks, qm.rtn_fallbacks);
  }
}

TEST(StreamedPipeline, ResidentWeightsStayNearOneLayer) {
  const LoadedModel lazy = load_hf_model(test::model_dir("tiny-llama"), {.lazy = true});
  ModelWeights& w = *lazy.weights;
  const size_t at_rest = resident_weight_bytes(w);  // norms, converted at load
  size_t one_layer = 0;
  for (const NamedTensor& nt : layer_tensors(w, 0)) one_layer += size_t(nt.tensor->numel()) * sizeof(float);
  for (IntQuantMethod method : {IntQuantMethod::Gptq, IntQuantMethod::Awq, IntQuantMethod::Rtn}) {
    SCOPED_TRACE(int_quant_method_name(method));
    IntQuantizeOptions o;
    o.method = method;
    IntLayerStream stream;
    size_t peak = 0;
    int layers = 0;
    stream.layer_done = [&](int, QuantizedModel& qm, const WindowStates*) {
      peak = std::max(peak, resident_weight_bytes(*qm.weights));
      EXPECT_LE(qm.linears.size(), 7u);  // this layer's only
      ++layers;
    };
    const auto windows = method == IntQuantMethod::Rtn ? std::vector<std::vector<int32_t>>{} : pipeline_windows(lazy, {2, 64, 0});
    const QuantizedModel qm = quantize_model_int(w, windows, o, {}, &stream);
    EXPECT_EQ(layers, int(w.cfg.n_layers));
    EXPECT_LE(peak, at_rest + one_layer);
    EXPECT_GT(peak, at_rest);
    EXPECT_EQ(resident_weight_bytes(*qm.weights), at_rest);  // every layer went back to disk
    EXPECT_TRUE(qm.linears.empty());
  }
}

TEST(StreamedPipeline, ResumesAfterAStoppedRunToIdenticalFiles) {
  test::TempDir tmp;
  for (IntQuantMethod method : {IntQuantMethod::Gptq, IntQuantMethod::Awq, IntQuantMethod::Rtn}) {
    const std::string name = int_quant_method_name(method);
    SCOPED_TRACE(name);
    HfQuantizeJob full = job_for(method, HfQuantFormat::Gptq, "tiny-llama", tmp / (name + "-full"));
    if (method == IntQuantMethod::Awq) full.format = HfQuantFormat::Awq;
    run_hf_quantize(full);

    HfQuantizeJob job = full;
    job.output_dir = tmp / (name + "-resumed");
    const std::string ckpt = job.output_dir + ".checkpoint";
    EXPECT_THROW(run_hf_quantize(job, [](int layer, int) { if (layer == 1) throw StopAfter{}; }), StopAfter);
    EXPECT_FALSE(fs::exists(job.output_dir));
    EXPECT_TRUE(fs::exists(fs::path(ckpt) / "layer-00001.safetensors"));
    const HfQuantizeOutcome r = run_hf_quantize(job);
    EXPECT_EQ(r.resumed_layers, 2);
    expect_same_files(full.output_dir, job.output_dir);
    EXPECT_FALSE(fs::exists(ckpt));
  }
}

TEST(StreamedPipeline, MaxMemoryPutsStatesOnDiskWithTheSameFiles) {
  test::TempDir tmp;
  for (IntQuantMethod method : {IntQuantMethod::Gptq, IntQuantMethod::Awq}) {
    const std::string name = int_quant_method_name(method);
    SCOPED_TRACE(name);
    const HfQuantFormat format = method == IntQuantMethod::Awq ? HfQuantFormat::Awq : HfQuantFormat::Gptq;
    HfQuantizeJob full = job_for(method, format, "tiny-llama", tmp / (name + "-full"));
    const HfQuantizeOutcome rf = run_hf_quantize(full);
    EXPECT_FALSE(rf.state_budget_bytes.has_value());

    // A limit below one layer's working memory: every window's states go to disk, with a warning.
    HfQuantizeJob job = full;
    job.output_dir = tmp / (name + "-spilled");
    job.max_memory = 1;
    const HfQuantizeOutcome r = run_hf_quantize(job);
    ASSERT_TRUE(r.state_budget_bytes.has_value());
    EXPECT_EQ(*r.state_budget_bytes, 0);
    const int64_t state_bytes = r.calibration_tokens * 256 * int64_t(sizeof(float));  // tiny-llama: hidden 256
    EXPECT_EQ(r.states_spilled_bytes, state_bytes);
    EXPECT_TRUE(std::any_of(r.warnings.begin(), r.warnings.end(),
                            [](const std::string& w) { return w.find("--max-memory") != std::string::npos; }));
    expect_same_files(full.output_dir, job.output_dir);

    // A stopped run with spilled states resumes to the same files, and a generous limit spills nothing.
    job.output_dir = tmp / (name + "-resumed");
    EXPECT_THROW(run_hf_quantize(job, [](int layer, int) { if (layer == 1) throw StopAfter{}; }), StopAfter);
    job.max_memory = uint64_t(1) << 40;
    const HfQuantizeOutcome rr = run_hf_quantize(job);
    EXPECT_EQ(rr.resumed_layers, 2);
    EXPECT_GT(*rr.state_budget_bytes, 0);
    EXPECT_EQ(rr.states_spilled_bytes, 0);
    expect_same_files(full.output_dir, job.output_dir);
  }
}

TEST(StreamedPipeline, ADamagedFinishedLayerIsRefused) {
  test::TempDir tmp;
  HfQuantizeJob job = job_for(IntQuantMethod::Rtn, HfQuantFormat::Gptq, "tiny-llama", tmp / "out");
  EXPECT_THROW(run_hf_quantize(job, [](int layer, int) { if (layer == 1) throw StopAfter{}; }), StopAfter);
  const std::string layer0 = job.output_dir + ".checkpoint/layer-00000.safetensors";
  std::string bytes = test::read_file(layer0);
  bytes[bytes.size() - 5] ^= 0x01;  // inside the last tensor's data
  std::ofstream(layer0, std::ios::binary | std::ios::trunc) << bytes;
  try {
    run_hf_quantize(job);
    FAIL() << "a damaged layer was written into the output";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer-00000.safetensors: checksum mismatch"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(job.output_dir));
  job.restart = true;  // as the message says
  EXPECT_EQ(run_hf_quantize(job).resumed_layers, 0);
}

TEST(StreamedPipeline, ACheckpointOfAnotherJobIsNotResumed) {
  test::TempDir tmp;
  HfQuantizeJob job = job_for(IntQuantMethod::Gptq, HfQuantFormat::Gptq, "tiny-llama", tmp / "out");
  EXPECT_THROW(run_hf_quantize(job, [](int layer, int) { if (layer == 1) throw StopAfter{}; }), StopAfter);
  HfQuantizeJob other = job;
  other.quant.spec.bits = 3;  // another job writing to the same place
  HfQuantizeOutcome r = run_hf_quantize(other);
  EXPECT_EQ(r.resumed_layers, 0);
  HfQuantizeJob fresh = other;
  fresh.output_dir = tmp / "fresh";
  run_hf_quantize(fresh);
  expect_same_files(other.output_dir, fresh.output_dir);

  // --restart ignores a checkpoint of the same job.
  HfQuantizeJob again = job;
  again.output_dir = tmp / "again";
  EXPECT_THROW(run_hf_quantize(again, [](int layer, int) { if (layer == 1) throw StopAfter{}; }), StopAfter);
  again.restart = true;
  EXPECT_EQ(run_hf_quantize(again).resumed_layers, 0);
}

TEST(StreamedPipeline, LowbitFilesEqualTheInMemoryWriterAndResume) {
  test::TempDir tmp;
  for (const char* method : {"fp8", "smoothquant", "fp4"}) {
    SCOPED_TRACE(method);
    LowbitQuantizeJob job;
    job.model_dir = test::model_dir("tiny-llama");
    job.output_dir = tmp / (std::string(method) + "-streamed");
    job.scheme = parse_lowbit_scheme(method, std::string(method) == "fp8" ? "static" : "", "", false);
    job.scheme.kv_fp8 = std::string(method) == "fp8";
    job.calibration_path = test::data_file("calibration.txt");
    job.windows = {4, 64, 0};
    run_lowbit_quantize(job);

    const LoadedModel& m = test::cached_model("tiny-llama");
    LowbitModel lm = quantize_model_lowbit(*m.weights, job.scheme.needs_calibration() ? pipeline_windows(m, job.windows)
                                                                                      : std::vector<std::vector<int32_t>>{},
                                           job.scheme);
    round_unquantized_to_bf16(lm);
    write_lowbit_checkpoint(lm, job.model_dir, tmp / (std::string(method) + "-memory"));
    expect_same_files(job.output_dir, tmp / (std::string(method) + "-memory"));

    // Stopped inside layer 2 (14 linears done = layers 0 and 1), then resumed.
    LowbitQuantizeJob resumed = job;
    resumed.output_dir = tmp / (std::string(method) + "-resumed");
    EXPECT_THROW(run_lowbit_quantize(resumed, [](int64_t done, int64_t) { if (done == 16) throw StopAfter{}; }), StopAfter);
    const LowbitQuantizeOutcome r = run_lowbit_quantize(resumed);
    EXPECT_EQ(r.resumed_layers, 2);
    expect_same_files(job.output_dir, resumed.output_dir);
  }
}

}  // namespace
}  // namespace llmq
