#include "export/hf/loaders/ct_lowbit_loader.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>

#include <fmt/format.h>

#include "export/hf/layer_linears.h"
#include "export/hf/loaders/checkpoint_reading.h"
#include "export/hf/loaders/ct_lowbit_decoders.h"
#include "export/hf/loaders/hf_quant_decoders.h"
#include "io/hf_checkpoint.h"
#include "model/decoded_rows.h"
#include "model/safetensors_rows.h"
#include "util/error.h"
#include "util/json_file.h"

namespace fs = std::filesystem;

namespace llmq {

namespace {

using nlohmann::json;

enum class StoredAs { Float8, Int8, Nvfp4, Mxfp4, Packed };

struct CtScheme {
  StoredAs stored = StoredAs::Float8;
  std::string format;       // as config.json names it
  json weights;             // QuantizationArgs of the weights
  IntFormatParams packed;   // StoredAs::Packed
  LinearInputQuant inputs;  // static scales filled from the tensors later
  bool kv_fp8 = false;
};

bool is_null_or_absent(const json& j, const char* key) { return !j.contains(key) || j[key].is_null(); }

// The one config group's scheme, or nullopt when this loader does not handle the checkpoint.
std::optional<CtScheme> scheme_of(const json& cfg, const std::string& cfg_path) {
  if (!cfg.contains("quantization_config") || !cfg["quantization_config"].is_object()) return std::nullopt;
  const json& qc = cfg["quantization_config"];
  if (qc.value("quant_method", "") != "compressed-tensors") return std::nullopt;
  try {
    const json& groups = qc.at("config_groups");
    if (groups.size() > 1 && is_null_or_absent(qc, "kv_cache_scheme")) {
      // Weight-only pack-quantized groups (one per bit width, --dynamic-experts) are the plain loader's.
      bool weight_only_packed = true;
      for (const auto& [name, g] : groups.items()) {
        const json& f = g.contains("format") && g["format"].is_string() ? g["format"] : qc["format"];
        weight_only_packed &= is_null_or_absent(g, "input_activations") && f == "pack-quantized";
      }
      if (weight_only_packed) return std::nullopt;
    }
    if (groups.size() != 1) throw file_error(cfg_path, "compressed-tensors: only one config group is supported");
    const json& g = groups.begin().value();
    CtScheme s;
    s.format = g.contains("format") && g["format"].is_string() ? g["format"].get<std::string>() : qc.value("format", "");
    s.weights = g.at("weights");
    const std::string wtype = s.weights.value("type", "int");
    const int wbits = s.weights.at("num_bits").get<int>();
    const bool acts = !is_null_or_absent(g, "input_activations");
    s.kv_fp8 = !is_null_or_absent(qc, "kv_cache_scheme");
    if (s.format == "float-quantized" || (s.format == "naive-quantized" && wtype == "float")) s.stored = StoredAs::Float8;
    else if (s.format == "int-quantized" || (s.format == "naive-quantized" && wtype == "int")) s.stored = StoredAs::Int8;
    else if (s.format == "nvfp4-pack-quantized") s.stored = StoredAs::Nvfp4;
    else if (s.format == "mxfp4-pack-quantized") s.stored = StoredAs::Mxfp4;
    else if (s.format == "pack-quantized" && (acts || s.kv_fp8)) s.stored = StoredAs::Packed;
    else return std::nullopt;  // pack-quantized weight-only and other layouts: the plain loader's

    const bool eight_bit = s.stored == StoredAs::Float8 || s.stored == StoredAs::Int8;
    if (eight_bit && wbits != 8) throw file_error(cfg_path, fmt::format("{} with {}-bit weights", s.format, wbits));
    if ((s.stored == StoredAs::Nvfp4 || s.stored == StoredAs::Mxfp4) && (wbits != 4 || wtype != "float"))
      throw file_error(cfg_path, fmt::format("{} needs 4-bit float weights", s.format));
    if (s.stored == StoredAs::Packed) {
      s.packed.bits = wbits;
      s.packed.sym = s.weights.value("symmetric", true);
      s.packed.group_size = (s.weights.value("strategy", "group") == "channel" || s.weights["group_size"].is_null())
                                ? -1 : s.weights["group_size"].get<int64_t>();
    }
    if (acts) {
      const json& a = g["input_activations"];
      const std::string strategy = a.value("strategy", ""), type = a.value("type", "int");
      const bool dynamic = a.value("dynamic", json(false)) == json(true);
      if (a.value("num_bits", 0) != 8 || (type != "int" && type != "float") ||
          !((strategy == "token" && dynamic) || (strategy == "tensor" && !dynamic)) || !a.value("symmetric", true))
        throw file_error(cfg_path, "compressed-tensors: input activations other than 8-bit symmetric dynamic per-token "
                                   "or static per-tensor cannot be simulated");
      s.inputs.type = type == "int" ? ActQuantType::Int8 : ActQuantType::Fp8;
      s.inputs.dynamic = dynamic;
    }
    if (s.kv_fp8) {
      const json& kv = qc["kv_cache_scheme"];
      if (kv.value("type", "") != "float" || kv.value("num_bits", 0) != 8 || kv.value("strategy", "") != "tensor")
        throw file_error(cfg_path, "compressed-tensors: only an 8-bit float per-tensor kv_cache_scheme is supported");
    }
    return s;
  } catch (const json::exception& e) {
    throw file_error(cfg_path, std::string("malformed quantization config: ") + e.what());
  }
}

bool is_stored_quantized(const HfCheckpoint& ck, const CtScheme& s, const std::string& prefix) {
  switch (s.stored) {
    case StoredAs::Float8: case StoredAs::Int8: return ck.find(prefix + ".weight_scale") != nullptr;
    default: return ck.find(prefix + ".weight_packed") != nullptr;
  }
}

Tensor decode(const HfCheckpoint& ck, const CtScheme& s, const std::string& prefix, int64_t out, int64_t in) {
  switch (s.stored) {
    case StoredAs::Float8: return decode_ct_lowbit_linear(ck, CtLowbitFormat::Float8, prefix, out, in);
    case StoredAs::Int8: return decode_ct_lowbit_linear(ck, CtLowbitFormat::Int8, prefix, out, in);
    case StoredAs::Nvfp4: return decode_ct_lowbit_linear(ck, CtLowbitFormat::Nvfp4, prefix, out, in);
    case StoredAs::Mxfp4: return decode_ct_lowbit_linear(ck, CtLowbitFormat::Mxfp4, prefix, out, in);
    case StoredAs::Packed: return decode_compressed_tensors_linear(ck, prefix, out, in, s.packed);
  }
  return {};
}

// KV scales where compressed-tensors puts them (self_attn.k_scale), or the
// k_proj.output_scale spelling vLLM also maps; 1.0 (vLLM's default) when absent.
void read_kv_scales(const HfCheckpoint& ck, int64_t n_layers, KvCacheQuant& kv) {
  kv.fp8 = true;
  for (int64_t l = 0; l < n_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".self_attn.";
    kv.k_scale.push_back(read_scalar_tensor(ck, p + "k_scale", read_scalar_tensor(ck, p + "k_proj.output_scale", 1.0f)));
    kv.v_scale.push_back(read_scalar_tensor(ck, p + "v_scale", read_scalar_tensor(ck, p + "v_proj.output_scale", 1.0f)));
    if (!(kv.k_scale.back() > 0.0f) || !(kv.v_scale.back() > 0.0f))
      throw file_error(ck.dir(), fmt::format("layer {}: KV cache scales must be positive", l));
  }
}

std::string describe(const CtScheme& s) {
  std::string d;
  switch (s.stored) {
    case StoredAs::Float8: d = "fp8 " + s.weights.value("strategy", std::string("tensor")); break;
    case StoredAs::Int8: d = "int8 " + s.weights.value("strategy", std::string("channel")); break;
    case StoredAs::Nvfp4: d = "nvfp4"; break;
    case StoredAs::Mxfp4: d = "mxfp4"; break;
    case StoredAs::Packed: d = fmt::format("int{} packed", s.packed.bits); break;
  }
  if (s.inputs.enabled())
    d += fmt::format(", {} {} activations", act_quant_type_name(s.inputs.type), s.inputs.dynamic ? "per-token" : "static");
  if (s.kv_fp8) d += ", fp8 kv cache";
  return d;
}

}  // namespace

std::unique_ptr<LoadedModel> load_ct_lowbit_model(const std::string& path, const LoadOptions& opt) {
  const fs::path cfg_file = fs::path(path) / "config.json";
  if (!fs::is_directory(path) || !fs::exists(cfg_file)) return nullptr;
  const std::string cfg_path = cfg_file.string();
  const std::optional<CtScheme> scheme = scheme_of(read_json_file(cfg_path), cfg_path);
  if (!scheme) return nullptr;
  CtScheme s = *scheme;
  const auto ckp = std::make_shared<const HfCheckpoint>(path);
  const HfCheckpoint& ck = *ckp;
  const auto cache = make_decoded_weight_cache();
  auto w = std::make_shared<ModelWeights>();
  w->cfg = ModelConfig::from_json(ck.config(), cfg_path);
  if (!s.inputs.dynamic) s.inputs.static_scales.assign(size_t(w->cfg.n_layers) * 4, 0.0f);
  s.inputs.quantized_inputs.assign(size_t(w->cfg.n_layers) * 4, 0);
  std::vector<LayerLinear> linears = model_linears(*w);
  std::map<std::string, const LayerLinear*> by_name;
  for (const LayerLinear& l : linears) by_name[l.name] = &l;
  for (NamedTensor& nt : named_tensors(*w)) {
    const auto lin = by_name.find(nt.name);
    const std::string prefix = lin != by_name.end() ? nt.name.substr(0, nt.name.size() - 7) : nt.name;
    if (lin != by_name.end() && is_stored_quantized(ck, s, prefix)) {
      const int64_t out = nt.shape[0], in = nt.shape[1];
      if (opt.lazy) {  // decoded when the forward pass first reads it (model/decoded_rows.h)
        const size_t row_bytes = size_t(s.stored == StoredAs::Float8 || s.stored == StoredAs::Int8 ? in
                                        : s.stored == StoredAs::Packed                          ? in * s.packed.bits / 8
                                                                                                : in / 2);
        nt.tensor->shape = nt.shape;
        nt.tensor->rows_source = decoded_rows(cache, out, in, row_bytes, [ckp, s, prefix, out, in] { return decode(*ckp, s, prefix, out, in); });
      } else {
        *nt.tensor = decode(ck, s, prefix, out, in);
      }
      const LinearKey& k = lin->second->key;
      s.inputs.quantized_inputs[size_t(k.layer) * 4 + size_t(k.slot)] = 1;
      if (s.inputs.enabled() && !s.inputs.dynamic) {
        const float in_scale = read_ct_input_scale(ck, prefix);
        if (!(in_scale > 0.0f)) throw file_error(path, prefix + ".input_scale is missing or not positive");
        float& slot = s.inputs.static_scales[size_t(k.layer) * 4 + size_t(k.slot)];
        slot = std::max(slot, in_scale);  // fused q/k/v (and experts) take the largest, as vLLM does
      }
      continue;
    }
    if (opt.lazy && nt.shape.size() == 2) {  // embeddings, lm_head, routers: rows from the mapping
      nt.tensor->shape = nt.shape;
      nt.tensor->rows_source = safetensors_rows(ckp, &checked_float_view(ck, nt));
      continue;
    }
    read_float_tensor(ck, nt);
  }
  w->runtime.inputs = s.inputs;
  if (s.kv_fp8) read_kv_scales(ck, w->cfg.n_layers, w->runtime.kv);

  return make_loaded_model(std::move(w), ck, "compressed-tensors", describe(s));
}

void register_ct_lowbit_loader() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_model_loader("compressed-tensors-lowbit",
                          [](const std::string& path, const LoadOptions& opt) { return load_ct_lowbit_model(path, opt); });
  });
}

}  // namespace llmq
