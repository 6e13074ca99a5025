#include "export/hf/hf_quant_writer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "export/hf/checkpoint_side_files.h"
#include "export/hf/checkpoint_size.h"
#include "export/hf/hf_tensor_encoders.h"
#include "export/hf/mlx_expert_stacking.h"
#include "export/hf/safetensors_shards.h"
#include "io/hf_checkpoint.h"
#include "util/atomic_output.h"
#include "util/error.h"
#include "util/half.h"
#include "util/json_file.h"

namespace fs = std::filesystem;

namespace llmq {

namespace {

// Fields that mlx-lm's model classes and transformers 4 read, which a
// transformers 5 config carries under other names: qwen2_moe / qwen3_moe read
// `num_experts` (transformers 5 writes `num_local_experts`; transformers 4
// would build 128 experts), and a top-level `rope_theta` (transformers 5 nests
// it in `rope_parameters`; transformers 4 would use 10000). Both spellings
// then agree, so either generation loads the output.
void add_legacy_config_fields(nlohmann::json& cfg) {
  const std::string type = cfg.value("model_type", "");
  if ((type == "qwen3_moe" || type == "qwen2_moe") && !cfg.contains("num_experts") && cfg.contains("num_local_experts"))
    cfg["num_experts"] = cfg["num_local_experts"];
  if (!cfg.contains("rope_theta") && cfg.contains("rope_parameters") && cfg["rope_parameters"].is_object() &&
      cfg["rope_parameters"].contains("rope_theta"))
    cfg["rope_theta"] = cfg["rope_parameters"]["rope_theta"];
}

}  // namespace

float round_to(DType d, float v) {
  if (d == DType::F16) return f16_to_f32(f32_to_f16(v));
  if (d == DType::BF16) return bf16_to_f32(f32_to_bf16(v));
  return v;
}

void round_unquantized_to_format(QuantizedModel& qm, HfQuantFormat format) {
  const DType dt = unquantized_dtype(format, qm.weights->source_dtype);
  for (const NamedTensor& nt : named_tensors(*qm.weights))
    if (!qm.linears.count(nt.name))
      for (float& v : nt.tensor->data) v = round_to(dt, v);
}

Tensor dequantize_as_stored(const QuantizedLinear& q, HfQuantFormat format) {
  if (format != HfQuantFormat::Mlx) return q.dequantize();
  Tensor t;
  t.resize({q.rows, q.cols});
  for (int64_t r = 0; r < q.rows; ++r)
    for (int64_t c = 0; c < q.cols; ++c) {
      const GroupGrid g = q.grid(r, q.g_idx[size_t(c)]);
      const float bias = q.biases.empty() ? round_to(mlx_scale_dtype(q.spec), -g.scale * float(g.zero))
                                          : q.biases[size_t(r * q.n_groups() + q.g_idx[size_t(c)])];
      t.data[size_t(r * q.cols + c)] = g.scale * float(q.q[size_t(r * q.cols + c)]) + bias;
    }
  return t;
}

void append_checkpoint_tensors(HfQuantFormat format, DType float_dtype, const NamedTensor& nt, const QuantizedLinear* q,
                               std::vector<OutTensor>& out) {
  if (q) {
    add_quantized_linear(format, module_of_weight(nt.name), *q, out);
    return;
  }
  out.push_back(float_out_tensor(nt.name, float_dtype, nt.shape, nt.tensor));
}

HfQuantWriteResult write_hf_quantized(const QuantizedModel& qm, HfQuantFormat format, const IntQuantizeOptions& opt,
                                      const std::string& source_dir, const std::string& out_dir, uint64_t max_shard_bytes) {
  std::vector<OutTensor> tensors;
  std::map<std::string, IntQuantSpec> quantized;
  const DType float_dt = unquantized_dtype(format, qm.weights->source_dtype);
  for (const NamedTensor& nt : named_tensors(*qm.weights)) {
    auto it = qm.linears.find(nt.name);
    append_checkpoint_tensors(format, float_dt, nt, it == qm.linears.end() ? nullptr : &it->second, tensors);
    if (it != qm.linears.end()) quantized.emplace(nt.name, it->second.spec);
  }
  return write_hf_checkpoint(*qm.weights, tensors, quantized, qm.ignored, format, opt, source_dir, out_dir, max_shard_bytes);
}

HfQuantWriteResult write_hf_checkpoint(ModelWeights& w, const std::vector<OutTensor>& tensors,
                                       const std::map<std::string, IntQuantSpec>& quantized,
                                       const std::vector<std::string>& ignored_weights, HfQuantFormat format,
                                       const IntQuantizeOptions& opt, const std::string& source_dir,
                                       const std::string& out_dir, uint64_t max_shard_bytes) {
  ensure_not_same_path(out_dir, source_dir);
  if (quantized.empty()) fail("nothing to write: the model has no quantized linears");
  check_linear_bits_for_format(format, opt.linear_bits);
  // The config's bits are those of the linears without a width of their own.
  const IntQuantSpec* base = &quantized.begin()->second;
  for (const auto& [name, spec] : quantized)
    if (!opt.linear_bits.count(name)) {
      base = &spec;
      break;
    }
  const IntQuantSpec& spec = *base;
  std::map<std::string, int> module_bits;
  for (const auto& [name, s] : quantized)
    if (s.bits != spec.bits) module_bits[module_of_weight(name)] = s.bits;
  const DType float_dt = unquantized_dtype(format, w.source_dtype);

  std::vector<std::string> not_quantized, ignored;
  for (const std::string& name : ignored_weights) ignored.push_back(module_of_weight(name));
  for (const NamedTensor& nt : named_tensors(w)) {
    if (quantized.count(nt.name)) continue;
    if (nt.role == TensorRole::Router || (is_linear_weight(nt.role) && nt.layer >= 0))
      not_quantized.push_back(module_of_weight(nt.name));  // routers and --ignore'd linears
    if (nt.role == TensorRole::Output) not_quantized.push_back("lm_head");
  }

  AtomicOutputDir out(out_dir);
  std::vector<OutTensor> laid_out = tensors;
  if (format == HfQuantFormat::Mlx) stack_mlx_experts(laid_out);
  const ShardedWrite shards =
      write_safetensors_shards(out, laid_out, checkpoint_metadata(format), max_shard_bytes);

  nlohmann::json cfg = read_json_file((fs::path(source_dir) / "config.json").string());
  nlohmann::json qcfg = quantization_config(format, spec, opt, not_quantized, ignored, module_bits);
  const bool block_keeps_floats =
      std::any_of(not_quantized.begin(), not_quantized.end(), [](const std::string& m) { return m != "lm_head"; });
  if (format == HfQuantFormat::Gptq && block_keeps_floats) {
    std::vector<std::string> modules;
    for (const auto& [name, s] : quantized) modules.push_back(module_of_weight(name));
    qcfg["modules_in_block_to_quantize"] = modules_in_block_to_quantize(modules);
  }
  if (format == HfQuantFormat::Mlx) cfg["quantization"] = qcfg;  // mlx-lm reads "quantization"; newer also the HF key
  add_legacy_config_fields(cfg);
  cfg["quantization_config"] = qcfg;
  cfg["torch_dtype"] = torch_dtype_name(float_dt);
  if (cfg.contains("dtype")) cfg["dtype"] = torch_dtype_name(float_dt);
  write_json_file(out.file("config.json"), cfg);
  if (format == HfQuantFormat::Gptq) {
    // GPTQModel reads quantize_config.json before config.json: the same
    // fields, "dynamic" rules (per-module bits, skipped routers) included.
    write_json_file(out.file("quantize_config.json"), qcfg);
  }
  copy_checkpoint_side_files(source_dir, out);

  HfQuantWriteResult r;
  r.dir = out_dir;
  r.tensors = int64_t(tensors.size());
  r.quantized_linears = int64_t(quantized.size());
  r.bytes = shards.bytes;
  r.files = shards.files;
  out.commit();
  return r;
}

}  // namespace llmq
