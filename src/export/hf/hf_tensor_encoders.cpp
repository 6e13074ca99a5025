#include "export/hf/hf_tensor_encoders.h"

#include <algorithm>
#include <set>
#include <string_view>

#include "quant/formats/intq/bit_packing.h"
#include "util/error.h"
#include "util/half.h"

namespace llmq {

std::vector<uint8_t> floats_as(DType dtype, const std::vector<float>& v) {
  if (dtype == DType::F32) return raw_bytes(v);
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); ++i) h[i] = dtype == DType::F16 ? f32_to_f16(v[i]) : f32_to_bf16(v[i]);
  return raw_bytes(h);
}

void for_each_row_tile(const Tensor& t, const std::function<void(int64_t, int64_t, const float*)>& fn) {
  const int64_t cols = t.cols();
  // Rows of cols values; a dense tensor's count comes from its data, so any leading dimensions count.
  const int64_t rows = t.lazy() ? t.rows() : int64_t(t.data.size()) / std::max<int64_t>(1, cols);
  const int64_t tile = std::max<int64_t>(1, (int64_t(4) << 20) / std::max<int64_t>(1, cols * 4));  // ~4 MB of fp32 rows
  if (!t.lazy()) {  // tiles of the resident rows themselves, no copy
    for (int64_t r0 = 0; r0 < rows; r0 += tile) fn(r0, std::min(tile, rows - r0), t.data.data() + r0 * cols);
    return;
  }
  std::vector<float> buf;
  for (int64_t r0 = 0; r0 < rows; r0 += tile) {
    const int64_t n = std::min(tile, rows - r0);
    buf.resize(size_t(n * cols));
    t.read_rows(r0, n, buf.data());
    fn(r0, n, buf.data());
  }
}

std::vector<uint8_t> tensor_as(DType dtype, const Tensor& t) {
  if (!t.lazy()) return floats_as(dtype, t.data);
  std::vector<uint8_t> out;
  out.reserve(size_t(t.numel()) * dtype_size(dtype));
  stream_tensor_as(dtype, t, [&](const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  });
  return out;
}

void stream_tensor_as(DType dtype, const Tensor& t, const SafetensorsWriter::ByteSink& sink) {
  for_each_row_tile(t, [&](int64_t, int64_t n, const float* v) {
    const std::vector<uint8_t> b = floats_as(dtype, std::vector<float>(v, v + n * t.cols()));
    sink(b.data(), b.size());
  });
}

OutTensor float_out_tensor(const std::string& name, DType dtype, const std::vector<int64_t>& shape, const Tensor* t) {
  return {name, dtype, shape, [t, dtype] { return tensor_as(dtype, *t); },
          [t, dtype](const SafetensorsWriter::ByteSink& sink) { stream_tensor_as(dtype, *t, sink); }};
}

void write_out_tensor(SafetensorsWriter& st, const OutTensor& t) {
  if (t.stream) {
    st.write_streamed(t.name, t.stream);
    return;
  }
  const std::vector<uint8_t> b = t.bytes();
  st.write(t.name, b.data(), b.size());
}

DType unquantized_dtype(HfQuantFormat f, DType source) {
  if (source == DType::BF16 || source == DType::F16) return source;
  switch (f) {
    case HfQuantFormat::Gptq: case HfQuantFormat::Awq: case HfQuantFormat::Mlx: return DType::F16;
    case HfQuantFormat::CompressedTensors: return DType::BF16;
  }
  return DType::F16;
}

const char* torch_dtype_name(DType d) { return d == DType::BF16 ? "bfloat16" : d == DType::F16 ? "float16" : "float32"; }

DType mlx_scale_dtype(const IntQuantSpec& spec) {
  return spec.scale_storage == ScaleStorage::BF16 ? DType::BF16 : DType::F16;
}

namespace {

// codes [rows, cols] -> [cols, rows]
std::vector<uint32_t> codes_transposed(const QuantizedLinear& q) {
  std::vector<uint32_t> t(size_t(q.rows * q.cols));
  for (int64_t r = 0; r < q.rows; ++r)
    for (int64_t c = 0; c < q.cols; ++c) t[size_t(c * q.rows + r)] = q.q[size_t(r * q.cols + c)];
  return t;
}

// A per-(row, group) array [rows, G] as [G, rows].
template <typename T>
std::vector<T> groups_major(const std::vector<T>& v, int64_t rows, int64_t G) {
  std::vector<T> t(v.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < G; ++g) t[size_t(g * rows + r)] = v[size_t(r * G + g)];
  return t;
}

void add_gptq(const std::string& p, const QuantizedLinear& q, std::vector<OutTensor>& out) {
  const int b = q.spec.bits;
  const int64_t G = q.n_groups();
  // qweight: input features packed down the rows, one column per output feature.
  out.push_back({p + ".qweight", DType::I32, {packed_words(q.cols, b), q.rows},
                 [&q, b] { return raw_bytes(pack_along_rows(codes_transposed(q), q.cols, q.rows, b)); }});
  // qzeros: GPTQ v1 stores zero - 1, packed along output features.
  out.push_back({p + ".qzeros", DType::I32, {G, packed_words(q.rows, b)}, [&q, b, G] {
                   std::vector<uint32_t> z(size_t(q.rows * G));
                   for (size_t i = 0; i < z.size(); ++i) z[i] = uint32_t(q.zeros[i] - 1) & uint32_t(q.spec.maxq());
                   return raw_bytes(pack_along_cols(groups_major(z, q.rows, G), G, q.rows, b));
                 }});
  out.push_back({p + ".scales", DType::F16, {G, q.rows},
                 [&q, G] { return floats_as(DType::F16, groups_major(q.scales, q.rows, G)); }});
  out.push_back({p + ".g_idx", DType::I32, {q.cols}, [&q] { return raw_bytes(q.g_idx); }});
}

void add_awq(const std::string& p, const QuantizedLinear& q, std::vector<OutTensor>& out) {
  const int64_t G = q.n_groups();
  if (q.rows % 8 != 0) fail("{}: AWQ needs a multiple of 8 output features, got {}", p, q.rows);
  out.push_back({p + ".qweight", DType::I32, {q.cols, q.rows / 8},
                 [&q] { return raw_bytes(awq_pack(codes_transposed(q), q.cols, q.rows)); }});
  out.push_back({p + ".qzeros", DType::I32, {G, q.rows / 8}, [&q, G] {
                   std::vector<uint32_t> z(q.zeros.begin(), q.zeros.end());
                   return raw_bytes(awq_pack(groups_major(z, q.rows, G), G, q.rows));
                 }});
  out.push_back({p + ".scales", DType::F16, {G, q.rows},
                 [&q, G] { return floats_as(DType::F16, groups_major(q.scales, q.rows, G)); }});
}

void add_compressed_tensors(const std::string& p, const QuantizedLinear& q, std::vector<OutTensor>& out) {
  const int b = q.spec.bits;
  const int64_t G = q.n_groups();
  // Signed codes q - 2^(b-1) are stored offset by 2^(b-1), i.e. exactly our unsigned codes.
  out.push_back({p + ".weight_packed", DType::I32, {q.rows, packed_words(q.cols, b)}, [&q, b] {
                   std::vector<uint32_t> c(q.q.begin(), q.q.end());
                   return raw_bytes(pack_along_cols(c, q.rows, q.cols, b));
                 }});
  out.push_back({p + ".weight_scale", DType::BF16, {q.rows, G}, [&q] { return floats_as(DType::BF16, q.scales); }});
  if (!q.spec.sym)
    out.push_back({p + ".weight_zero_point", DType::I32, {packed_words(q.rows, b), G}, [&q, b, G] {
                     std::vector<uint32_t> z(q.zeros.begin(), q.zeros.end());
                     return raw_bytes(pack_along_rows(z, q.rows, G, b));
                   }});
  out.push_back({p + ".weight_shape", DType::I64, {2}, [&q] { return raw_bytes(std::vector<int64_t>{q.rows, q.cols}); }});
  if (!q.has_sequential_groups())
    out.push_back({p + ".weight_g_idx", DType::I32, {q.cols}, [&q] { return raw_bytes(q.g_idx); }});
}

void add_mlx(const std::string& p, const QuantizedLinear& q, std::vector<OutTensor>& out) {
  const int b = q.spec.bits;
  const int64_t G = q.n_groups();
  out.push_back({p + ".weight", DType::U32, {q.rows, packed_words(q.cols, b)}, [&q, b] {
                   std::vector<uint32_t> c(q.q.begin(), q.q.end());
                   return raw_bytes(pack_along_cols(c, q.rows, q.cols, b));
                 }});
  // Scales and biases in the model's 16-bit type (spec_for_format), as mlx-lm writes them: a matmul
  // mixing bf16 activations with f16 scales would run in fp32.
  const DType dt = mlx_scale_dtype(q.spec);
  out.push_back({p + ".scales", dt, {q.rows, G}, [&q, dt] { return floats_as(dt, q.scales); }});
  // MLX affine: w = scale * q + bias, so bias = -scale * zero.
  out.push_back({p + ".biases", dt, {q.rows, G}, [&q, dt] {
                   if (!q.biases.empty()) return floats_as(dt, q.biases);  // learned offsets (DWQ)
                   std::vector<float> bias(q.scales.size());
                   for (size_t i = 0; i < bias.size(); ++i) bias[i] = -q.scales[i] * float(q.zeros[i]);
                   return floats_as(dt, bias);
                 }});
}

}  // namespace

void add_quantized_linear(HfQuantFormat f, const std::string& prefix, const QuantizedLinear& q,
                          std::vector<OutTensor>& out) {
  if (!q.biases.empty() && f != HfQuantFormat::Mlx)
    fail("{}: learned affine biases (DWQ) can only be stored in the MLX layout, not {}", prefix, hf_quant_format_name(f));
  switch (f) {
    case HfQuantFormat::Gptq: add_gptq(prefix, q, out); break;
    case HfQuantFormat::Awq: add_awq(prefix, q, out); break;
    case HfQuantFormat::CompressedTensors: add_compressed_tensors(prefix, q, out); break;
    case HfQuantFormat::Mlx: add_mlx(prefix, q, out); break;
  }
}

nlohmann::json modules_in_block_to_quantize(const std::vector<std::string>& quantized_modules) {
  // Groups in the order GPTQ quantizes a block (optimum flattens them; GPTQModel reads them as its sequence).
  const std::vector<std::vector<std::string>> roles = {
      {"q_proj", "k_proj", "v_proj"}, {"o_proj"}, {"gate_proj", "up_proj", "w1", "w3"}, {"down_proj", "w2"}};
  std::vector<std::vector<std::string>> groups(roles.size() + 1);
  std::set<std::string> seen;
  for (const std::string& m : quantized_modules) {
    // "model.layers.L.REST" -> "REST": the name inside the block, the same in every block.
    const std::string head = "model.layers.";
    if (!m.starts_with(head)) continue;
    const size_t dot = m.find('.', head.size());
    if (dot == std::string::npos) continue;
    const std::string rest = m.substr(dot + 1);
    if (!seen.insert(rest).second) continue;
    const std::string leaf = rest.substr(rest.rfind('.') + 1);
    size_t g = roles.size();
    for (size_t i = 0; i < roles.size() && g == roles.size(); ++i)
      if (std::find(roles[i].begin(), roles[i].end(), leaf) != roles[i].end()) g = i;
    groups[g].push_back(rest);
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& g : groups)
    if (!g.empty()) out.push_back(g);
  return out;
}

std::string anchored_regex(const std::string& s) {
  std::string r = "^";
  for (char c : s) {
    if (std::string_view(".[]()*+?^$|\\{}").find(c) != std::string_view::npos) r += '\\';
    r += c;
  }
  return r + "$";
}

namespace {

// GPTQModel / vLLM "dynamic" rules: "-:REGEX" leaves matching modules unquantized. vLLM
// matches its fused modules (qkv_proj, gate_up_proj), so a fully ignored q/k/v or
// gate/up pair also gets a rule for the fused name. "+:REGEX": {"bits": N} gives the
// matching module other bits than the config's (GPTQModel builds each module's
// QuantLinear from the rule that matches its name).
nlohmann::json gptq_dynamic_rules(const std::vector<std::string>& ignored, const std::map<std::string, int>& module_bits) {
  const std::set<std::string> set(ignored.begin(), ignored.end());
  nlohmann::json rules = nlohmann::json::object();
  for (const std::string& m : ignored) rules["-:" + anchored_regex(m)] = nlohmann::json::object();
  const std::vector<std::pair<std::vector<std::string>, std::string>> fused = {
      {{"q_proj", "k_proj", "v_proj"}, "qkv_proj"}, {{"gate_proj", "up_proj"}, "gate_up_proj"}};
  for (const std::string& m : ignored)
    for (const auto& [parts, name] : fused) {
      if (!m.ends_with("." + parts[0])) continue;
      const std::string base = m.substr(0, m.size() - parts[0].size());
      bool all = true;
      for (const std::string& p : parts) all &= set.count(base + p) > 0;
      if (all) rules["-:" + anchored_regex(base + name)] = nlohmann::json::object();
    }
  for (const auto& [m, bits] : module_bits) rules["+:" + anchored_regex(m)] = {{"bits", bits}};
  return rules;
}

// compressed-tensors "weights" scheme of one config group.
nlohmann::json ct_weight_scheme(const IntQuantSpec& spec, int bits, const IntQuantizeOptions& opt) {
  using nlohmann::json;
  const bool act_groups = opt.method == IntQuantMethod::Gptq && opt.gptq.desc_act && spec.group_size > 0;
  return {{"num_bits", bits},
          {"type", "int"},
          {"symmetric", spec.sym},
          {"strategy", spec.group_size < 0 ? "channel" : "group"},
          {"group_size", spec.group_size < 0 ? json(nullptr) : json(spec.group_size)},
          {"dynamic", false},
          {"actorder", act_groups ? json(opt.gptq.static_groups ? "weight" : "group") : json(nullptr)},
          {"observer", "minmax"},
          {"observer_kwargs", json::object()},
          {"block_structure", nullptr}};
}

nlohmann::json ct_config_group(nlohmann::json targets, nlohmann::json weights) {
  return {{"targets", std::move(targets)},
          {"weights", std::move(weights)},
          {"input_activations", nullptr},
          {"output_activations", nullptr},
          {"format", "pack-quantized"}};
}

// group_0 targets every Linear at spec.bits; each other bit width gets a group
// whose targets name its modules exactly (consumers prefer a name match over a
// class match when a module matches several groups).
nlohmann::json ct_config_groups(const IntQuantSpec& spec, const IntQuantizeOptions& opt,
                                const std::map<std::string, int>& module_bits) {
  nlohmann::json groups = {{"group_0", ct_config_group({"Linear"}, ct_weight_scheme(spec, spec.bits, opt))}};
  std::map<int, std::vector<std::string>> by_bits;
  for (const auto& [m, bits] : module_bits) by_bits[bits].push_back(m);
  int g = 1;
  for (const auto& [bits, modules] : by_bits)
    groups["group_" + std::to_string(g++)] = ct_config_group(modules, ct_weight_scheme(spec, bits, opt));
  return groups;
}

}  // namespace

nlohmann::json quantization_config(HfQuantFormat f, const IntQuantSpec& spec, const IntQuantizeOptions& opt,
                                   const std::vector<std::string>& not_quantized, const std::vector<std::string>& ignored,
                                   const std::map<std::string, int>& module_bits) {
  using nlohmann::json;
  switch (f) {
    case HfQuantFormat::Gptq: {
      json cfg = {{"quant_method", "gptq"},
              {"checkpoint_format", "gptq"},
              {"bits", spec.bits},
              {"group_size", spec.group_size},
              {"sym", spec.sym},
              {"desc_act", opt.method == IntQuantMethod::Gptq && opt.gptq.desc_act},
              {"static_groups", opt.method == IntQuantMethod::Gptq && opt.gptq.static_groups},
              {"damp_percent", opt.gptq.damp_percent},
              {"true_sequential", opt.true_sequential},
              {"lm_head", false},
              {"model_name_or_path", nullptr},
              {"model_file_base_name", "model"}};
      // Every decoder-layer linear kept in floating point (MoE routers, --ignore'd linears) gets a "-:" rule:
      // loaders that replace each Linear of a block by a QuantLinear skip exactly those.
      std::vector<std::string> skipped;
      for (const std::string& m : not_quantized)
        if (m != "lm_head") skipped.push_back(m);
      for (const std::string& m : ignored)
        if (std::find(skipped.begin(), skipped.end(), m) == skipped.end()) skipped.push_back(m);
      if (!skipped.empty() || !module_bits.empty()) cfg["dynamic"] = gptq_dynamic_rules(skipped, module_bits);
      return cfg;
    }
    case HfQuantFormat::Awq: {
      // Zero points are always written (8 for symmetric grids), so every consumer takes the zero-point path.
      json cfg = {{"quant_method", "awq"}, {"version", "gemm"}, {"bits", spec.bits},
                  {"group_size", spec.group_size}, {"zero_point", true}};
      cfg["modules_to_not_convert"] = not_quantized.empty() ? json(nullptr) : json(not_quantized);
      return cfg;
    }
    case HfQuantFormat::CompressedTensors: {
      std::vector<std::string> ignore = {"lm_head"};
      for (const auto& m : not_quantized)
        if (m != "lm_head") ignore.push_back(m);
      return {{"quant_method", "compressed-tensors"},
              {"format", "pack-quantized"},
              {"quantization_status", "compressed"},
              {"config_groups", ct_config_groups(spec, opt, module_bits)},
              {"ignore", ignore},
              {"kv_cache_scheme", nullptr},
              {"sparsity_config", json::object()},
              {"global_compression_ratio", nullptr}};
    }
    case HfQuantFormat::Mlx: {
      // mlx-lm looks a module's path up in this object first: false keeps it a plain Linear.
      json cfg = {{"group_size", spec.group_size}, {"bits", spec.bits}};
      for (const std::string& m : ignored) cfg[m] = false;
      // mlx-lm reads a module's own {"group_size", "bits"} from the same object.
      for (const auto& [m, bits] : module_bits) cfg[m] = {{"group_size", spec.group_size}, {"bits", bits}};
      return cfg;
    }
  }
  return {};
}

}  // namespace llmq
