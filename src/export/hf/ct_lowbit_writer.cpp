#include "export/hf/ct_lowbit_writer.h"

#include <filesystem>

#include "export/hf/checkpoint_side_files.h"
#include "export/hf/ct_lowbit_config.h"
#include "export/hf/hf_tensor_encoders.h"
#include "io/hf_checkpoint.h"
#include "io/safetensors_writer.h"
#include "util/atomic_output.h"
#include "util/error.h"
#include "util/half.h"
#include "util/json_file.h"

namespace fs = std::filesystem;

namespace llmq {

namespace {

std::string module_of(const std::string& weight_name) { return weight_name.substr(0, weight_name.size() - 7); }

OutTensor f32_tensor(const std::string& name, std::vector<int64_t> shape, std::vector<float> v) {
  return {name, DType::F32, std::move(shape), [v = std::move(v)] { return raw_bytes(v); }};
}

void add_int8(const std::string& p, const LowbitLinear& q, bool packed, std::vector<OutTensor>& out) {
  if (packed) {
    add_quantized_linear(HfQuantFormat::CompressedTensors, p, q.int8, out);
    return;
  }
  // int-quantized stores the signed codes: ours are offset by the symmetric zero point 128.
  out.push_back({p + ".weight", DType::I8, {q.rows, q.cols}, [&q] {
                   std::vector<uint8_t> b(q.int8.q.size());
                   for (size_t i = 0; i < b.size(); ++i) b[i] = uint8_t(int8_t(int(q.int8.q[i]) - 128));
                   return b;
                 }});
  out.push_back(f32_tensor(p + ".weight_scale", {q.rows, 1}, q.int8.scales));
}

void add_linear(const std::string& p, const LowbitLinear& q, const LowbitScheme& s, std::vector<OutTensor>& out) {
  switch (q.format) {
    case LowbitWeights::Fp8:
      out.push_back({p + ".weight", DType::F8_E4M3, {q.rows, q.cols}, [&q] { return q.fp8.codes; }});
      out.push_back(f32_tensor(p + ".weight_scale",
                               q.fp8.granularity == fp::Fp8Granularity::per_tensor ? std::vector<int64_t>{1}
                                                                                   : std::vector<int64_t>{q.rows, 1},
                               q.fp8.scales));
      break;
    case LowbitWeights::Int8: add_int8(p, q, !s.quantizes_activations(), out); break;
    case LowbitWeights::Nvfp4:
      out.push_back({p + ".weight_packed", DType::U8, {q.rows, q.cols / 2}, [&q] { return q.nvfp4.packed; }});
      out.push_back({p + ".weight_scale", DType::F8_E4M3, {q.rows, q.cols / fp::kNvfp4GroupSize},
                     [&q] { return q.nvfp4.scales; }});
      out.push_back(f32_tensor(p + ".weight_global_scale", {1}, {q.nvfp4.global_scale}));
      break;
    case LowbitWeights::Mxfp4:
      out.push_back({p + ".weight_packed", DType::U8, {q.rows, q.cols / 2}, [&q] { return q.mxfp4.packed; }});
      out.push_back({p + ".weight_scale", DType::U8, {q.rows, q.cols / fp::kMxfp4GroupSize},
                     [&q] { return q.mxfp4.scales; }});
      break;
  }
  if (q.input_scale > 0.0f) out.push_back(f32_tensor(p + ".input_scale", {1}, {q.input_scale}));
}

std::set<std::string> quantized_names(const LowbitModel& m) {
  std::set<std::string> names;
  for (const auto& [name, q] : m.linears) names.insert(name);
  return names;
}

}  // namespace

void round_unquantized_to_bf16(LowbitModel& m) {
  for (const NamedTensor& nt : named_tensors(*m.weights))
    if (!m.linears.count(nt.name))
      for (float& v : nt.tensor->data) v = bf16_to_f32(f32_to_bf16(v));
}

std::vector<std::string> lowbit_ignore_list(const LowbitModel& m) { return lowbit_ignore_list(*m.weights, quantized_names(m)); }

std::vector<std::string> lowbit_ignore_list(ModelWeights& w, const std::set<std::string>& quantized) {
  std::vector<std::string> ignore;
  for (const NamedTensor& nt : named_tensors(w)) {
    if (nt.role == TensorRole::Output) ignore.push_back("lm_head");
    else if ((is_linear_weight(nt.role) || nt.role == TensorRole::Router) && !quantized.count(nt.name))
      ignore.push_back(module_of(nt.name));
  }
  if (w.cfg.tie_embeddings) ignore.insert(ignore.begin(), "lm_head");
  return ignore;
}

void append_lowbit_tensors(const NamedTensor& nt, const LowbitLinear* q, const LowbitScheme& s, DType float_dtype,
                           std::vector<OutTensor>& out) {
  if (q) {
    add_linear(module_of(nt.name), *q, s, out);
    return;
  }
  out.push_back(float_out_tensor(nt.name, float_dtype, nt.shape, nt.tensor));
}

void append_kv_scales(const LowbitModel& m, std::vector<OutTensor>& out) {
  if (!m.scheme.kv_fp8) return;
  for (size_t l = 0; l < m.k_scale.size(); ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".self_attn.";
    out.push_back(f32_tensor(p + "k_scale", {1}, {m.k_scale[l]}));
    out.push_back(f32_tensor(p + "v_scale", {1}, {m.v_scale[l]}));
  }
}

HfQuantWriteResult write_lowbit_checkpoint(const LowbitModel& m, const std::string& source_dir, const std::string& out_dir) {
  std::vector<OutTensor> tensors;
  for (const NamedTensor& nt : named_tensors(*m.weights)) {
    auto it = m.linears.find(nt.name);
    append_lowbit_tensors(nt, it == m.linears.end() ? nullptr : &it->second, m.scheme,
                          unquantized_dtype(HfQuantFormat::CompressedTensors, m.weights->source_dtype), tensors);
  }
  append_kv_scales(m, tensors);
  return write_lowbit_files(*m.weights, tensors, quantized_names(m), m.scheme, source_dir, out_dir);
}

HfQuantWriteResult write_lowbit_files(ModelWeights& w, const std::vector<OutTensor>& tensors,
                                      const std::set<std::string>& quantized, const LowbitScheme& scheme,
                                      const std::string& source_dir, const std::string& out_dir) {
  ensure_not_same_path(out_dir, source_dir);
  if (quantized.empty()) fail("nothing to write: the model has no quantized linears");
  AtomicOutputDir out(out_dir);
  SafetensorsWriter st(out.file("model.safetensors"));
  st.set_metadata("format", "pt");
  for (const OutTensor& t : tensors) st.declare(t.name, t.dtype, t.shape);
  for (const OutTensor& t : tensors) write_out_tensor(st, t);
  st.finish();

  nlohmann::json cfg = read_json_file((fs::path(source_dir) / "config.json").string());
  cfg["quantization_config"] = lowbit_quantization_config(scheme, lowbit_ignore_list(w, quantized));
  // The type the unquantized tensors keep (bf16 for bf16 and fp32 sources, f16 for f16 ones).
  const char* dtype = torch_dtype_name(unquantized_dtype(HfQuantFormat::CompressedTensors, w.source_dtype));
  cfg["torch_dtype"] = dtype;
  if (cfg.contains("dtype")) cfg["dtype"] = dtype;
  write_json_file(out.file("config.json"), cfg);
  copy_checkpoint_side_files(source_dir, out);

  HfQuantWriteResult r;
  r.dir = out_dir;
  r.tensors = int64_t(tensors.size());
  r.quantized_linears = int64_t(quantized.size());
  r.bytes = fs::file_size(out.file("model.safetensors"));
  out.commit();
  return r;
}

}  // namespace llmq
